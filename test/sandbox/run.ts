import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxEvent } from '../../plugins/sandbox/sandbox-reporter.js';
import { NULL_POLICY, SandboxPolicy } from '../../plugins/sandbox/sandbox-policy.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { SandboxedResult, execSandboxed } from '../../plugins/sandbox/exec-sandboxed.js';
import type { ExecOptions } from '../../core/system/index.js';

export interface SandboxRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** dunesim's own lines (the sandbox's reports, the exit message). */
  messages: string;
  events: SandboxEvent[];
  stats: Record<string, unknown>;
  result: SandboxedResult;
}

/** A policy from a JSON value (as a policy file would hold it). */
export function policy(json: unknown): SandboxPolicy {
  return new PolicyLoader().parse(json, 'test policy');
}

export interface RunOptions {
  policy?: SandboxPolicy;
  args?: string[];
  root?: string;
  argv0?: string;
  /** Called with all the program's stdout so far, each time it writes some. */
  onStdout?: (all: string) => void;
  netIdleTimeoutMs?: number;
  /** CPUs of the machine (default: what the launcher asks for). */
  cpus?: number;
}

type Exec<R> = (path: string, args: string[], opts: Omit<ExecOptions, 'mode' | 'launcher'> & { policy?: SandboxPolicy }) => R;

/**
 * Runs `path` with `exec` (execSandboxed, execPtraced) under `opts.policy` (default: the null
 * policy) in `opts.root` (default: a fresh empty directory), capturing the program's output and
 * dunesim's messages.
 */
export function captured<R>(exec: Exec<R>, path: string, opts: RunOptions = {}): { result: R; stdout: string; stderr: string; messages: string } {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'dunesim-sandbox-root-'));
  let stdout = '';
  let stderr = '';
  let messages = '';
  const dec = new TextDecoder();
  try {
    const result = exec(path, opts.args ?? [], {
      policy: opts.policy ?? NULL_POLICY,
      profile: 'dune-e3-1230v2',
      memory: 512 << 20,
      root,
      argv0: opts.argv0,
      cpus: opts.cpus,
      netIdleTimeoutMs: opts.netIdleTimeoutMs ?? 20_000,
      envp: ['PATH=/bin', 'DUNESIM_TEST=hello-from-env'],
      console: (fd, data) => {
        if (fd === 1) {
          stdout += dec.decode(data);
          opts.onStdout?.(stdout);
        } else stderr += dec.decode(data);
      },
      report: (line) => (messages += line),
    });
    return { result, stdout, stderr, messages };
  } finally {
    if (opts.root === undefined) rmSync(root, { recursive: true, force: true });
  }
}

/** Runs `path` under the sandbox (see `captured`). */
export function sandboxed(path: string, opts: RunOptions = {}): SandboxRun {
  const { result, stdout, stderr, messages } = captured(execSandboxed, path, opts);
  return { exitCode: result.exitCode, stdout, stderr, messages, events: result.launcher.reporter!.events, stats: result.stats, result };
}
