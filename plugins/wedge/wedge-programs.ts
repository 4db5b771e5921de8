import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecResult, System } from '../../core/system/index.js';

/** The committed binaries of plugins/wedge/programs (built by its Makefile). */
export const WEDGE_BIN = fileURLToPath(new URL('./programs/bin', import.meta.url));

/** The three implementations of sthread.h, chosen at run time (`--impl`, or STHREAD_IMPL). */
export const STHREAD_IMPLS = ['dune', 'fork', 'pthread'] as const;
export type SthreadImpl = (typeof STHREAD_IMPLS)[number];

/** The policy violations wedgetest knows (wedgetest <attack>). */
export const WEDGE_ATTACKS = ['untagged-read', 'ro-tag-write', 'denied-syscall', 'ungranted-fd', 'master-code', 'cr3', 'cgate', 'handlers', 'master-stack', 'bad-pointer', 'trap-flag', 'sse-exception'] as const;

export interface WedgeRun {
  out: string;
  err: string;
  exitCode: number;
  result: ExecResult;
}

/**
 * Runs one of the Wedge programs as a Linux process on a machine with the Dune module loaded
 * (the dune implementation enters Dune itself through /dev/dune), with argv0 and an empty
 * environment fixed so that the figures do not depend on where the repository lies.
 */
export function runWedgeProgram(system: System, profile: string, name: string, args: readonly string[]): WedgeRun {
  const path = join(WEDGE_BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing (make -C plugins/wedge/programs)`);
  const dec = new TextDecoder();
  let out = '';
  let err = '';
  const result = system.exec(path, [...args], {
    mode: 'linux', profile, memory: 512 << 20, argv0: name, envp: [],
    console: (fd, data) => {
      if (fd === 1) out += dec.decode(data);
      else err += dec.decode(data);
    },
    report: (line) => {
      err += line;
    },
  });
  return { out, err, exitCode: result.exitCode, result };
}

/** The `stats` row wedgebench prints last, as numbers. */
export function parseStats(out: string): Record<string, number> {
  const line = out.split('\n').find((l) => l.startsWith('stats '));
  if (!line) throw new Error(`wedgebench printed no stats row:\n${out}`);
  const r: Record<string, number> = {};
  for (const kv of line.split(' ').slice(2)) {
    const [k, v] = kv.split('=');
    r[k!] = Number(v);
  }
  return r;
}

/** The fields of wedgebench's row that starts with `id` (and `impl`, when given). */
export function benchRow(out: string, id: string, impl?: string): number[] {
  const line = out.split('\n').find((l) => l.startsWith(`${id} `) && (impl === undefined || l.split(' ')[1] === impl));
  if (!line) throw new Error(`wedgebench printed no '${id}' row:\n${out}`);
  return line.split(' ').slice(impl === undefined ? 1 : 2).map(Number);
}
