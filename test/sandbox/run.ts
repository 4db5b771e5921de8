import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxEvent } from '../../plugins/sandbox/sandbox-reporter.js';
import { NULL_POLICY, SandboxPolicy } from '../../plugins/sandbox/sandbox-policy.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { SandboxedResult, execSandboxed } from '../../plugins/sandbox/exec-sandboxed.js';

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

/** Runs `path` under the sandbox with `pol` (default: the null policy) in `root` (default: a fresh empty directory). */
export function sandboxed(
  path: string,
  opts: { policy?: SandboxPolicy; args?: string[]; root?: string; argv0?: string; onStdout?: (all: string) => void; netIdleTimeoutMs?: number } = {},
): SandboxRun {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'dunesim-sandbox-root-'));
  let stdout = '';
  let stderr = '';
  let messages = '';
  const dec = new TextDecoder();
  try {
    const result = execSandboxed(path, opts.args ?? [], {
      policy: opts.policy ?? NULL_POLICY,
      profile: 'dune-e3-1230v2',
      memory: 512 << 20,
      root,
      argv0: opts.argv0,
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
    return { exitCode: result.exitCode, stdout, stderr, messages, events: result.launcher.reporter!.events, stats: result.stats, result };
  } finally {
    if (opts.root === undefined) rmSync(root, { recursive: true, force: true });
  }
}
