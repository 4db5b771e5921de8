import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_BIN, System, vmExitCount } from '../../core/system/index.js';
import type { ExecResult } from '../../core/system/index.js';
import { WEDGE_BIN } from './wedge-programs.js';

/** How wedgehttpd handles a request: inline, or in an sthread of one implementation. */
export const HTTP_WAYS = ['inline', 'pthread', 'fork', 'dune'] as const;
export type HttpWay = (typeof HTTP_WAYS)[number];

/** The directory the guest sees as "/": it holds www/index.html (about 1 KiB). */
const GUEST_ROOT = join(GUEST_BIN, '..');

export interface HttpRun {
  result: ExecResult;
  abFailed: number;
}

/**
 * wedgehttpd serving /www/index.html to Apache's ab over real loopback TCP, one connection at a
 * time (-c 1), until it has answered `requests` requests. As plugins/sandbox's httpd rows: ab is a
 * host process started when the server says it listens, and the run stays synchronous.
 */
export function runWedgeHttpd(system: System, profile: string, way: HttpWay, requests: number): HttpRun {
  const path = join(WEDGE_BIN, 'wedgehttpd');
  if (!existsSync(path)) throw new Error(`${path} is missing (make -C plugins/wedge/programs)`);
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-wedge-ab-'));
  const out = join(dir, 'ab.out');
  const done = join(dir, 'ab.done');
  let started = false;
  let text = '';
  try {
    const how = way === 'inline' ? ['--inline'] : ['--impl', way];
    const result = system.exec(path, [...how, '0', '/www', String(requests)], {
      mode: 'linux', profile, memory: 256 << 20, root: GUEST_ROOT, argv0: 'wedgehttpd', envp: [], netIdleTimeoutMs: 30_000,
      console: (fd, data) => {
        if (fd !== 1 || started) return;
        text += new TextDecoder().decode(data);
        const m = /listening on port (\d+)/.exec(text);
        if (m === null) return;
        started = true;
        const cmd = `ab -q -n ${requests} -c 1 http://127.0.0.1:${m[1]}/index.html > '${out}' 2>&1; echo $? > '${done}'`;
        spawn('sh', ['-c', cmd], { stdio: 'ignore' }).unref();
      },
    });
    if (!started) throw new Error(`wedgehttpd (${way}) did not start (exit ${result.exitCode})`);
    if (result.exitCode !== 0) throw new Error(`wedgehttpd (${way}) exited with ${result.exitCode}`);
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 600 && !existsSync(done); i++) Atomics.wait(wait, 0, 0, 50);
    const report = existsSync(out) ? readFileSync(out, 'utf8') : '';
    return { result, abFailed: Number(/Failed requests:\s+(\d+)/.exec(report)?.[1] ?? NaN) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PerRequest {
  cycles: number;
  vmExits: number;
  tlbMisses: number;
  failed: number;
}

/** The server's cost per request: the difference of two runs over the difference of requests. */
export function httpPerRequest(system: System, profile: string, way: HttpWay, n: readonly [number, number]): PerRequest {
  const [a, b] = n.map((k) => runWedgeHttpd(system, profile, way, k));
  const d = n[1] - n[0];
  const st = (r: HttpRun): { cycles: number; tlb: { misses: number } } => r.result.stats as { cycles: number; tlb: { misses: number } };
  return {
    cycles: (st(b!).cycles - st(a!).cycles) / d,
    vmExits: (vmExitCount(b!.result) - vmExitCount(a!.result)) / d,
    tlbMisses: (st(b!).tlb.misses - st(a!).tlb.misses) / d,
    failed: a!.abFailed + b!.abFailed,
  };
}
