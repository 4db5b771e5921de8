/**
 * The sandbox with threads (SECURITY.md, class 9; security/threads.md): threaded programs run
 * in sandbox mode on one CPU and on two with the output they give natively; every thread is in
 * ring 3 under the runtime; clone, futex and the tid words cannot reach runtime memory; and a
 * sibling thread on another CPU cannot change what the kernel gets after the checks — neither by
 * rewriting the program's buffer nor by having the runtime copy its own arguments over the
 * checked copy of another thread (which one shared copy area would allow: this test fails then).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execElf } from '../../core/system/index.js';
import { NR } from '../../core/linux/linux-abi.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { SandboxLauncher } from '../../plugins/sandbox/sandbox-launcher.js';
import { NULL_POLICY } from '../../plugins/sandbox/sandbox-policy.js';
import { ROOT } from './hostile.js';
import { policy, sandboxed } from './run.js';

const THREADS = join(ROOT, 'test', 'linux', 'threads', 'bin');
const ATTACKS = join(ROOT, 'test', 'sandbox', 'attacks', 'bin');
const native = (path: string, args: string[] = []): { stdout: string; status: number | null } => {
  const r = spawnSync(path, args, { encoding: 'utf8', timeout: 20_000 });
  return { stdout: r.stdout, status: r.status };
};
const canRunNative = process.platform === 'linux' && process.arch === 'x64';
const THREADS_POLICY = new PolicyLoader().load(join(ROOT, 'plugins', 'sandbox', 'policies', 'threads.json'));

describe.runIf(existsSync(join(THREADS, 'sum4')))('threaded programs in sandbox mode', () => {
  for (const cpus of [1, 2]) {
    it(`sum4 (four threads, a mutex, a barrier) prints what it prints natively, on ${cpus} CPU(s), under policies/threads.json`, () => {
      const want = canRunNative ? native(join(THREADS, 'sum4')).stdout : 'sum 599989999\n';
      const r = sandboxed(join(THREADS, 'sum4'), { cpus, policy: THREADS_POLICY });
      expect(r.stdout).toBe(want);
      expect(r.exitCode).toBe(0);
      expect(r.events).toEqual([]);
      // Four clones, each a thread the runtime made and entered into Dune (no denial, no fault).
      expect(r.stats['sandbox']).toMatchObject({ denied: 0, rejected: 0 });
    });
  }

  it('exit_group from one thread ends the group, sleepers in futex and read included, with its status (2 CPUs)', () => {
    const r = sandboxed(join(THREADS, 'group-exit'), { cpus: 2 });
    expect(r.stdout).toBe('ending the group\n');
    expect(r.exitCode).toBe(5);
  });

  it('exit ends one thread: the first leaves, the worker goes on alone, and the last out ends the process as the kernel model does', () => {
    const path = join(ATTACKS, 'threads-exit');
    const r = sandboxed(path, { cpus: 2 });
    if (canRunNative) expect(r.stdout).toBe(native(path).stdout);
    expect(r.stdout).toBe('main: leaving first\nworker: alone, tid != pid: 1\n');
    const linux = execElf(path, [], { mode: 'linux', profile: 'dune-e3-1230v2', memory: 256 << 20, cpus: 2, envp: [], console: () => {}, report: () => {} });
    expect(r.exitCode).toBe(linux.exitCode);
  });

  it('a run is deterministic: the same counts twice on 2 CPUs', () => {
    const a = sandboxed(join(THREADS, 'sum4'), { cpus: 2 });
    const b = sandboxed(join(THREADS, 'sum4'), { cpus: 2 });
    expect(a.stats['cycles']).toBe(b.stats['cycles']);
    expect(a.stats['sandbox']).toEqual(b.stats['sandbox']);
  });
});

describe.runIf(existsSync(join(ATTACKS, 'threads-clone')))('threads cannot reach the runtime', () => {
  const pthreadOnly = policy({
    cloneFlags: ['CLONE_VM', 'CLONE_FS', 'CLONE_FILES', 'CLONE_SIGHAND', 'CLONE_THREAD', 'CLONE_SYSVSEM', 'CLONE_SETTLS', 'CLONE_PARENT_SETTID', 'CLONE_CHILD_CLEARTID', 'CLONE_DETACHED'],
  });

  it('clone flags, stacks, TLS, tid words and futex words aimed at the runtime are refused, from a thread', () => {
    const r = sandboxed(join(ATTACKS, 'threads-clone'), { args: ['args'], cpus: 2, policy: pthreadOnly });
    expect(r.stdout).not.toContain('ESCAPED');
    expect(r.stdout.match(/^held /gm)?.length).toBe(21);
    expect(r.stdout).toContain('main: joined');
    expect(r.exitCode).toBe(0);
    const denied = r.events.filter((e) => e.kind === 'denied').map((e) => e.rule);
    expect(denied).toEqual([
      "the sandbox makes threads of the program's own group only, not CLONE_NEWUSER",
      "the sandbox makes threads of the program's own group only, not CLONE_VFORK|signal 17",
      "the sandbox makes threads of the program's own group only, not signal 17",
      "the sandbox makes threads of the program's own group only, not CLONE_PTRACE",
      "the sandbox makes threads of the program's own group only, not flags 0x100050f00 beyond 32 bits",
      'cloneFlags does not allow CLONE_CHILD_SETTID',
    ]);
    const rejected = r.events.filter((e) => e.kind === 'rejected').map((e) => e.rule);
    expect(rejected).toContain("newsp [0x71007ff8, +8) points into the sandbox runtime's thread stacks and copies");
    expect(rejected).toContain("child_tid [0x7013fff0, +4) points into the sandbox runtime's stack");
    expect(rejected).toContain("uaddr2 [0x70100100, +4) points into the sandbox runtime's stack");
    expect(rejected).toContain("timeout [0x70100100, +16) points into the sandbox runtime's stack");
  });

  it('a thread made by pthread_create runs in ring 3: reading the runtime\'s thread stacks is a #PF, SIGSEGV', () => {
    const r = sandboxed(join(ATTACKS, 'threads-clone'), { args: ['confine'], cpus: 2 });
    expect(r.stdout).not.toContain('ESCAPED');
    expect(r.exitCode).toBe(139);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ kind: 'contained', outcome: 'killed by SIGSEGV' });
    expect(r.events[0]!.attempted).toMatch(/^ring-3 #PF/);
    expect(r.events[0]!.rule).toContain("read of 0x71008000 (the sandbox runtime's thread stacks and copies): the page is supervisor-only");
  });
});

describe.runIf(existsSync(join(ATTACKS, 'threads-robust')))('robust futexes', () => {
  it('work as natively, and no robust list reaches the kernel, whose exit walk would write wherever its entries point', () => {
    const path = join(ATTACKS, 'threads-robust');
    const launcher = new SandboxLauncher(NULL_POLICY);
    const launch = launcher.launch.bind(launcher);
    const reached: number[] = [];
    launcher.launch = (ctx) => {
      const k = ctx.kernel;
      const dispatch = k.dispatch.bind(k);
      k.dispatch = (cpu, t, nr, regs) => {
        if (nr === NR.set_robust_list || nr === NR.get_robust_list) reached.push(nr);
        return dispatch(cpu, t, nr, regs);
      };
      return launch(ctx);
    };
    let stdout = '';
    const r = execElf(path, [], {
      mode: 'sandbox', launcher, profile: 'dune-e3-1230v2', memory: 256 << 20, cpus: 2, envp: [],
      console: (fd, d) => { if (fd === 1) stdout += new TextDecoder().decode(d); }, report: () => {},
    });
    const want = 'lock after the owner exited: EOWNERDEAD\nwaiter woken by the owner\'s exit: EOWNERDEAD\nset_robust_list: 0\nmain: after the forger\n';
    if (canRunNative) expect(native(path).stdout).toBe(want);
    expect(stdout).toBe(want);
    expect(r.exitCode).toBe(0);
    expect(reached).toEqual([]);
  });
});

describe.runIf(existsSync(join(ATTACKS, 'threads-toctou')))('a sibling thread on another CPU against the checks', () => {
  const root = mkdtempSync(join(tmpdir(), 'dunesim-threads-toctou-'));
  mkdirSync(join(root, 'secret'));
  writeFileSync(join(root, 'secret', 'key'), 'the key\n');
  mkdirSync(join(root, 'pub'));
  writeFileSync(join(root, 'pub', 'file'), 'public\n');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const secretNone = policy({ files: [{ path: '/', access: 'read-only' }, { path: '/secret', access: 'none' }] });

  it('rewriting the checked path: the kernel opens what was checked (the race is real: some checks see /secret and refuse)', () => {
    const r = sandboxed(join(ATTACKS, 'threads-toctou'), { args: ['rewrite'], cpus: 2, root, policy: secretNone });
    const m = /^held rewrite: no open read the key \((\d+) opened, (\d+) refused\)$/m.exec(r.stdout);
    expect(r.stdout).not.toContain('ESCAPED');
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThan(0);
  });

  it("the sibling's own argument copies never land on this thread's checked path: each thread copies into its own area", () => {
    const r = sandboxed(join(ATTACKS, 'threads-toctou'), { args: ['copies'], cpus: 2, root, policy: secretNone });
    expect(r.stdout).toBe('held copies: no open read the key (400 opened, 0 refused)\n');
    // The sibling's nanosleep calls were copied and passed on while the opens ran.
    expect((r.stats['sandbox'] as { passedThrough: number }).passedThrough).toBeGreaterThan(1200 + 100);
  });
});

