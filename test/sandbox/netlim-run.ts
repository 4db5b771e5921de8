/** Runs of the netlim attack programs (test/sandbox/attacks/netlim-*.c) both ways: the Dune sandbox and the ptrace supervisor. */
import { join } from 'node:path';
import { execElf } from '../../core/system/index.js';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { ROOT } from './hostile.js';
import { RunOptions, SandboxRun, captured, sandboxed } from './run.js';

export const ATTACKS = join(ROOT, 'test', 'sandbox', 'attacks', 'bin');

export type Way = 'sandbox' | 'ptrace';
export const WAYS: readonly Way[] = ['sandbox', 'ptrace'];

/** What a run gives, whichever way: exit status, output, dunesim's lines, the reports. */
export type Run = Omit<SandboxRun, 'result'>;

export function runWay(way: Way, path: string, opts: RunOptions = {}): Run {
  if (way === 'sandbox') return sandboxed(path, opts);
  const { result: r, stdout, stderr, messages } = captured(execPtraced, path, opts);
  return { exitCode: r.exitCode, stdout, stderr, messages, events: r.launcher.reporter!.events, stats: r.stats };
}

/** The verdict lines of an attack program (attack.h): "ESCAPED …" and "held …". */
export function verdicts(stdout: string): { escaped: string[]; held: string[] } {
  const lines = stdout.split('\n');
  return { escaped: lines.filter((l) => l.startsWith('ESCAPED')), held: lines.filter((l) => l.startsWith('held')) };
}

/** Runs `path` as a plain Linux or Dune process (no policy), capturing its output and dunesim's lines. */
export function runPlain(mode: 'linux' | 'dune', path: string, args: string[] = []): { exitCode: number; stdout: string; messages: string } {
  let stdout = '';
  let messages = '';
  const dec = new TextDecoder();
  const r = execElf(path, args, {
    mode, profile: 'dune-e3-1230v2', memory: 256 << 20, netIdleTimeoutMs: 20_000,
    console: (fd, d) => (fd === 1 ? (stdout += dec.decode(d)) : (messages += dec.decode(d))),
    report: (l) => (messages += l),
  });
  return { exitCode: r.exitCode, stdout, messages };
}
