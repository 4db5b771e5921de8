import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow } from '../../core/bench/bench-suite.js';
import { GUEST_BIN, ExecResult, System, vmExitCount } from '../../core/system/index.js';
import { loadProfile } from '../../core/vtx/cost-model.js';
import type { PolicyLoader } from './policy-loader.js';
import { PtraceLauncher } from './ptrace-launcher.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/** Dune Table 4: lighttpd under ab, requests per second (papers.md §1.6). */
export const PAPER_TABLE4 = {
  1: { linux: 2_236, dune: 2_206 },
  100: { linux: 24_609, dune: 24_255 },
} as const;

/** Requests per run: the per-request cost is the difference of two runs over the difference of requests. */
export type HttpdRequestCounts = Record<1 | 100, readonly [number, number]>;
const REQUESTS: HttpdRequestCounts = { 1: [20, 220], 100: [200, 1200] };
/** The directory the guest sees as "/", with www/index.html (about 1 KiB: "a small HTML page"). */
const GUEST_ROOT = join(GUEST_BIN, '..');

export interface HttpdRun {
  readonly result: ExecResult;
  readonly requests: number;
  /** What ab printed: requests per second (wall clock: the simulator's speed) and failures. */
  readonly abRequestsPerSecond: number;
  readonly abFailed: number;
}

/** Whether Apache's ab (Debian's apache2-utils) is on this machine. */
export function haveAb(): boolean {
  return ['/usr/bin/ab', '/usr/sbin/ab', '/usr/local/bin/ab'].some((p) => existsSync(p));
}

/**
 * Runs examples/guest/httpd as a Linux process or in the sandbox (null policy) while ab fetches
 * /index.html `requests` times with `clients` concurrent connections, over real loopback TCP. The
 * server exits after `requests` responses. ab runs as a host process: its output goes to a file,
 * and a marker file says it is done, so the whole run stays synchronous.
 */
export function runHttpdUnderAb(mode: 'linux' | 'sandbox' | 'ptrace', clients: number, requests: number, profile: string, system: System, policies: PolicyLoader): HttpdRun {
  const path = join(GUEST_BIN, 'httpd');
  if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-ab-'));
  const out = join(dir, 'ab.out');
  const done = join(dir, 'ab.done');
  let started = false;
  let text = '';
  try {
    const launcher = mode === 'sandbox' ? new SandboxLauncher(policies.load(undefined)) : mode === 'ptrace' ? new PtraceLauncher(policies.load(undefined)) : undefined;
    const result = system.exec(path, ['0', '/www', String(requests)], {
      mode, launcher, profile, memory: 256 << 20, root: GUEST_ROOT, netIdleTimeoutMs: 30_000,
      console: (fd, data) => {
        if (fd !== 1 || started) return;
        text += new TextDecoder().decode(data);
        const m = /listening on port (\d+)/.exec(text);
        if (m === null) return;
        started = true;
        const url = `http://127.0.0.1:${m[1]}/index.html`;
        const cmd = `ab -q -n ${requests} -c ${Math.min(clients, requests)} ${url} > '${out}' 2>&1; echo $? > '${done}'`;
        spawn('sh', ['-c', cmd], { stdio: 'ignore' }).unref();
      },
    });
    if (!started) throw new Error(`httpd did not start under --mode ${mode} (exit ${result.exitCode})`);
    if (result.exitCode !== 0) throw new Error(`httpd exited with ${result.exitCode} under --mode ${mode}`);
    // The server has answered every request; ab finishes reading the last ones.
    const wait = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 600 && !existsSync(done); i++) Atomics.wait(wait, 0, 0, 50);
    const report = existsSync(out) ? readFileSync(out, 'utf8') : '';
    const rps = Number(/Requests per second:\s+([\d.]+)/.exec(report)?.[1] ?? NaN);
    const failed = Number(/Failed requests:\s+(\d+)/.exec(report)?.[1] ?? NaN);
    return { result, requests, abRequestsPerSecond: rps, abFailed: failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface PerRequest {
  cycles: number;
  syscalls: number;
  vmExits: number;
  abRequestsPerSecond: number;
  failed: number;
}

function perRequest(mode: 'linux' | 'sandbox' | 'ptrace', clients: 1 | 100, profile: string, system: System, policies: PolicyLoader, counts: HttpdRequestCounts): PerRequest {
  const [n1, n2] = counts[clients];
  const a = runHttpdUnderAb(mode, clients, n1, profile, system, policies);
  const b = runHttpdUnderAb(mode, clients, n2, profile, system, policies);
  const d = n2 - n1;
  const st = (r: HttpdRun): { cycles: number; syscalls: number } => r.result.stats as { cycles: number; syscalls: number };
  return {
    cycles: (st(b).cycles - st(a).cycles) / d,
    syscalls: (st(b).syscalls - st(a).syscalls) / d,
    vmExits: (vmExitCount(b.result) - vmExitCount(a.result)) / d,
    abRequestsPerSecond: b.abRequestsPerSecond,
    failed: a.abFailed + b.abFailed,
  };
}

/**
 * The Table 4 analogue: examples/guest/httpd (single-threaded, event-based, like lighttpd) as a
 * Linux process and in the sandbox, under ab with 1 and with 100 concurrent clients.
 *
 * What the model measures is the server's CPU time per request: two runs, the difference of
 * cycles over the difference of requests, so start-up cancels out. The sandbox's extra cost is
 * predicted from the shared primitives — a ring-0 trap and a VMCALL for every system call, the
 * runtime's checks, 2-D walks — and the Linux kernel's network paths are estimates (profile).
 *
 * Requests per second also depend on the testbed, which no CPU model predicts; two testbed
 * figures are taken from the paper's Linux column, and the sandbox's column is then predicted:
 * - 1 client: each request waits for the round trip through ab and the wire, a latency W =
 *   1/2,236 s − the Linux server time; a server then does 1 / (W + its time) requests per second.
 * - 100 clients: ab is one single-threaded process; its cost per request C = 1/24,609 s bounds
 *   the rate when the modelled Linux server is faster than that, and a server does
 *   min(1/C, clock / cycles per request). When the model's Linux server is slower than the
 *   paper's figure there is no client bound and the server's own rate stands.
 * ab's own requests per second (counts) are wall clock: the simulator's speed. The counts also
 * hold the same server under the ptrace supervisor (null policy): Linux's way of interposing.
 * `requestCounts` are the two runs' request counts per client setting (tests pass smaller ones).
 */
export function httpdRows(profile: string, system: System, policies: PolicyLoader, progress: (label: string) => void, requestCounts: HttpdRequestCounts = REQUESTS): BenchRow[] {
  const hz = loadProfile(profile).clockHz;
  const rows: BenchRow[] = [];
  for (const clients of [1, 100] as const) {
    const linux = perRequest('linux', clients, profile, system, policies, requestCounts);
    progress(`httpd linux ${clients}`);
    const sandbox = perRequest('sandbox', clients, profile, system, policies, requestCounts);
    progress(`httpd sandbox ${clients}`);
    // The Linux way of interposing on the same server (null policy): a ptrace supervisor.
    const ptrace = perRequest('ptrace', clients, profile, system, policies, requestCounts);
    const paper = PAPER_TABLE4[clients];
    const linuxServer = hz / linux.cycles;
    const sandboxServer = hz / sandbox.cycles;
    let linuxRps: number;
    let sandboxRps: number;
    const testbed: Record<string, number> = {};
    if (clients === 1) {
      const w = 1 / paper.linux - linux.cycles / hz;
      testbed['testbed.roundTripMicroseconds'] = w * 1e6;
      linuxRps = 1 / (w + linux.cycles / hz);
      sandboxRps = 1 / (w + sandbox.cycles / hz);
    } else {
      const clientBound = linuxServer >= paper.linux ? paper.linux : Infinity;
      if (clientBound !== Infinity) testbed['testbed.clientMicrosecondsPerRequest'] = 1e6 / clientBound;
      linuxRps = Math.min(clientBound, linuxServer);
      sandboxRps = Math.min(clientBound, sandboxServer);
    }
    const counts: Record<string, number> = {
      'linux.cyclesPerRequest': linux.cycles,
      'sandbox.cyclesPerRequest': sandbox.cycles,
      'sandbox.extraCyclesPerRequest': sandbox.cycles - linux.cycles,
      'ptrace.cyclesPerRequest': ptrace.cycles,
      'ptrace.serverBoundRequestsPerSecond': hz / ptrace.cycles,
      'linux.serverBoundRequestsPerSecond': linuxServer,
      'sandbox.serverBoundRequestsPerSecond': sandboxServer,
      'linux.syscallsPerRequest': linux.syscalls,
      'sandbox.syscallsPerRequest': sandbox.syscalls,
      'sandbox.vmExitsPerRequest': sandbox.vmExits,
      'linux.wallRequestsPerSecond': linux.abRequestsPerSecond,
      'sandbox.wallRequestsPerSecond': sandbox.abRequestsPerSecond,
      failedRequests: linux.failed + sandbox.failed + ptrace.failed,
      ...testbed,
    };
    const plural = clients === 1 ? '' : 's';
    rows.push({
      id: `table4:${clients}-client${plural}`,
      unit: 'requests/s',
      description: `httpd under ab, ${clients} concurrent client${plural}: slowdown ${((1 - sandboxRps / linuxRps) * 100).toFixed(2)} % ` +
        `(paper ${((1 - paper.dune / paper.linux) * 100).toFixed(1)} %); server cycles per request ${Math.round(linux.cycles)} vs ${Math.round(sandbox.cycles)}`,
      linux: linuxRps,
      dune: sandboxRps,
      paper: { linux: paper.linux, dune: paper.dune, source: 'Dune §6.3.1, Table 4' },
      counts,
    });
  }
  return rows;
}
