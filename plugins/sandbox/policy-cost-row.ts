import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchContext, BenchRow } from '../../core/bench/bench-suite.js';
import { GUEST_BIN, ExecResult, System, vmExitCount } from '../../core/system/index.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { PolicyLoader } from './policy-loader.js';
import { PtraceLauncher } from './ptrace-launcher.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/** The policy of the row: every path judged, all of / read-only but the program's own files (policies/fileio.json). */
export const POLICY_ROW_POLICY = join(ROOT, 'plugins', 'sandbox', 'policies', 'fileio.json');

/**
 * `policy:fileio`: the cost of enforcing a policy that restricts files, each way. The file-heavy
 * guest program examples/guest/bin/fileio (open, stat, rename, unlink, stdio, readdir — every
 * path judged by the file rules) runs as a plain Linux process (no policy: the `linux` column),
 * under a ptrace supervisor enforcing policies/fileio.json (PTRACE_SYSCALL, PEEKDATA for every
 * path: in the counts), and in the Dune sandbox under the same policy (the `dune` column). Whole
 * runs, modelled cycles on the same profile; each run in a fresh empty directory as its root.
 */
export function policyCostRow(ctx: BenchContext, system: System, policies: PolicyLoader): BenchRow {
  const path = join(GUEST_BIN, 'fileio');
  if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
  const policy = policies.load(POLICY_ROW_POLICY);
  const run = (mode: 'linux' | 'ptrace' | 'sandbox', launcher?: PtraceLauncher | SandboxLauncher): ExecResult => {
    const root = mkdtempSync(join(tmpdir(), 'dunesim-policy-row-'));
    try {
      const r = system.exec(path, [], { profile: ctx.profile, memory: 512 << 20, root, mode, launcher, console: () => {}, report: () => {} });
      if (r.exitCode !== 0) throw new Error(`fileio exited with ${r.exitCode} under --mode ${mode} (policy ${policy.name})`);
      return r;
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
  const linux = run('linux');
  const tracer = new PtraceLauncher(policy);
  const ptrace = run('ptrace', tracer);
  const sandbox = run('sandbox', new SandboxLauncher(policy));
  const lc = linux.stats.cycles as number;
  const pc = ptrace.stats.cycles as number;
  const sc = sandbox.stats.cycles as number;
  const sup = tracer.supervisor!.counts;
  const pct = (x: number): string => `${((x / lc - 1) * 100).toFixed(0)} %`;
  return {
    id: 'policy:fileio',
    unit: 'cycles',
    description: `fileio under policies/${policy.name}.json: Linux without a policy ${Math.round(lc)}, ` +
      `ptrace supervisor ${Math.round(pc)} (+${pct(pc)}), Dune sandbox ${Math.round(sc)} (+${pct(sc)})`,
    linux: lc,
    dune: sc,
    counts: {
      'ptrace.cycles': pc,
      'ptrace.intercepted': sup.intercepted,
      'ptrace.stops': sup.stops,
      'ptrace.peeks': sup.peeks,
      'ptrace.supervisorSyscalls': sup.supervisorSyscalls,
      'ptrace.syscalls': ptrace.stats.syscalls as number,
      'sandbox.vmExits': vmExitCount(sandbox),
      'sandbox.syscalls': sandbox.stats.syscalls as number,
      'linux.syscalls': linux.stats.syscalls as number,
    },
  };
}
