/**
 * The Linux way of enforcing a sandbox policy (plugins/sandbox/ptrace-supervisor.ts): a modelled
 * supervisor process traces the program with PTRACE_SYSCALL. The same policy must give the same
 * decisions as the Dune sandbox: the same output, exit status and denial lines for the guest
 * programs and for small hostile ones. Documented differences (POLICY.md, "The ptrace way"): no
 * pointer checks, no /dev/dune descriptor (fd numbers start at 3, not 4), signals are the kernel's.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NR } from '../../core/linux/linux-abi.js';
import { execElf, LinuxExecMode, System } from '../../core/system/index.js';
import { NULL_POLICY, SandboxPolicy } from '../../plugins/sandbox/sandbox-policy.js';
import { SandboxEvent } from '../../plugins/sandbox/sandbox-reporter.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { SupervisorCounts } from '../../plugins/sandbox/ptrace-supervisor.js';
import { policyCostRow } from '../../plugins/sandbox/policy-cost-row.js';
import { Asm, BIN, HELLO, RAX, ROOT, patched } from './hostile.js';
import { RunOptions, SandboxRun, captured, policy, sandboxed } from './run.js';

/** What `sandboxed` gives, with the supervisor's counts in place of the sandbox's result. */
interface PtraceRun extends Omit<SandboxRun, 'result'> {
  counts: SupervisorCounts;
}

/** Runs `path` under the ptrace supervisor, as run.ts's `sandboxed` runs it under the sandbox. */
function ptraced(path: string, opts: RunOptions = {}): PtraceRun {
  const { result: r, stdout, stderr, messages } = captured(execPtraced, path, opts);
  return { exitCode: r.exitCode, stdout, stderr, messages, events: r.launcher.reporter!.events, stats: r.stats, counts: r.launcher.supervisor!.counts };
}

/** Runs both ways (each in a fresh copy of the same root) and expects the same outcome. */
function bothWays(path: string, opts: { policy?: SandboxPolicy; args?: string[]; argv0?: string; setup?: (root: string) => void } = {}): { pt: PtraceRun; sb: ReturnType<typeof sandboxed> } {
  const roots = [0, 1].map(() => {
    const root = mkdtempSync(join(tmpdir(), 'dunesim-both-'));
    opts.setup?.(root);
    return root;
  });
  try {
    const pt = ptraced(path, { ...opts, root: roots[0] });
    const sb = sandboxed(path, { ...opts, root: roots[1] });
    expect(pt.stdout).toBe(sb.stdout);
    expect(pt.exitCode).toBe(sb.exitCode);
    const denials = (es: SandboxEvent[]): SandboxEvent[] => es.filter((e) => e.kind === 'denied');
    expect(denials(pt.events)).toEqual(denials(sb.events));
    return { pt, sb };
  } finally {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  }
}

const EXPECTED = join(ROOT, 'examples', 'guest', 'expected');
const ARGS: Record<string, string[]> = { args: ['one', 'two words', '', '--flag=x'], exitcode: ['42'] };
const PROGRAMS = ['hello', 'strings', 'qsort', 'malloc', 'fileio', 'hello-pie', 'args', 'exitcode'];
const loader = new PolicyLoader();
const FILEIO_POLICY = loader.load(join(ROOT, 'plugins', 'sandbox', 'policies', 'fileio.json'));

describe.runIf(existsSync(HELLO))('guest programs: the ptrace supervisor and the sandbox decide alike', () => {
  for (const name of PROGRAMS) {
    it(`${name}: expected output, same exit status, no denials (null policy)`, () => {
      const { pt } = bothWays(join(BIN, name), { args: ARGS[name], argv0: name });
      expect(`${pt.stdout}exit=${pt.exitCode}\n`).toBe(readFileSync(join(EXPECTED, `${name}.out`), 'utf8'));
      expect(pt.events).toEqual([]);
      expect(pt.counts.intercepted).toBeGreaterThan(0);
      expect(pt.counts.allowed).toBe(pt.counts.intercepted);
    });
  }

  it('fileio under policies/fileio.json (files read-only but its own): same output, no denials', () => {
    const { pt } = bothWays(join(BIN, 'fileio'), { policy: FILEIO_POLICY, argv0: 'fileio' });
    expect(pt.exitCode).toBe(0);
    expect(pt.events).toEqual([]);
    expect(pt.counts.peeks).toBeGreaterThan(0); // every path was read a word at a time
  });

  it('fileio under a policy that makes / read-only: the same calls are denied with the same lines', () => {
    const pol = policy({ name: 'ro', files: [{ path: '/', access: 'read-only' }] });
    const { pt, sb } = bothWays(join(BIN, 'fileio'), { policy: pol, argv0: 'fileio' });
    expect(pt.exitCode).toBe(100); // its first open (O_CREAT) fails
    expect(pt.events.length).toBeGreaterThan(0);
    expect(pt.events[0]).toMatchObject({ kind: 'denied', rule: 'files: dunesim-fileio-a.txt is /dunesim-fileio-a.txt; files[0] (/, read-only) does not allow writing /dunesim-fileio-a.txt' });
    expect(pt.messages.split('\n').filter((l) => l.startsWith('sandbox: denied'))).toEqual(sb.messages.split('\n').filter((l) => l.startsWith('sandbox: denied')));
  });

  it('segv: the kernel delivers SIGSEGV to its handler under ptrace (the sandbox never runs it): a documented difference', () => {
    const pt = ptraced(join(BIN, 'segv'), { argv0: 'segv' });
    expect(pt.counts.signalStops).toBeGreaterThan(0); // the supervisor saw the signal and passed it on
    expect(pt.events).toEqual([]);
  });
});

describe.runIf(existsSync(HELLO))('hostile programs: same decisions both ways', () => {
  const withRoot = (root: string): void => {
    mkdirSync(join(root, 'data'));
    mkdirSync(join(root, 'etc'));
    mkdirSync(join(root, 'secret'));
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    writeFileSync(join(root, 'data', 'notes'), 'notes\n');
    writeFileSync(join(root, 'secret', 'key'), 'hunter2\n');
    symlinkSync('../secret', join(root, 'data', 'link'));
  };
  const pol = policy({ name: 'data only', files: [{ path: '/data', access: 'read-only' }] });
  const open = (p: string, flags = 0): string => patched(new Asm().sys(NR.open, { str: 'p' }, flags, 0).exitWithErrno().string('p', p));

  it('open("../../etc/passwd") is -EACCES with the same report line', () => {
    const { pt } = bothWays(open('../../etc/passwd'), { policy: pol, setup: withRoot });
    expect(pt.exitCode).toBe(13);
    expect(pt.messages).toContain('sandbox: denied open("../../etc/passwd", 0, 0): files: ../../etc/passwd is /etc/passwd; no files rule covers /etc/passwd → -EACCES\n');
  });

  it('a symlink in /data that leads to /secret is -EACCES', () => {
    const { pt } = bothWays(open('/data/link/key'), { policy: pol, setup: withRoot });
    expect(pt.exitCode).toBe(13);
    expect(pt.events[0]!.rule).toBe('files: /data/link/key leads to /secret/key through a symlink; no files rule covers /secret/key');
  });

  it('a denied open(O_CREAT) is skipped by the kernel (orig_rax = -1): no file appears', () => {
    const root = mkdtempSync(join(tmpdir(), 'dunesim-skip-'));
    try {
      withRoot(root);
      const pt = ptraced(open('/data/new', 0o101), { policy: pol, root }); // O_WRONLY | O_CREAT
      expect(pt.exitCode).toBe(13);
      expect(existsSync(join(root, 'data', 'new'))).toBe(false);
      const free = ptraced(open('/data/new', 0o101), { root });
      expect(free.exitCode).toBe(253); // fd 3, negated by exitWithErrno
      expect(existsSync(join(root, 'data', 'new'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('syscalls.deny and syscalls.allow: -EPERM; unknown calls (fork): -ENOSYS or -EPERM', () => {
    let r = bothWays(patched(new Asm().sys(NR.getpid).exitWithErrno()), { policy: policy({ syscalls: { deny: ['getpid'] } }) });
    expect(r.pt.exitCode).toBe(1);
    expect(r.pt.events[0]).toMatchObject({ attempted: 'getpid()', rule: 'syscalls.deny lists it', outcome: '-EPERM' });
    r = bothWays(patched(new Asm().sys(NR.getpid).exitWithErrno()), { policy: policy({ syscalls: { allow: ['write'] } }) });
    expect(r.pt.events[0]).toMatchObject({ rule: 'not in syscalls.allow' });
    r = bothWays(patched(new Asm().sys(NR.fork).exitWithErrno()));
    expect(r.pt.exitCode).toBe(38);
    r = bothWays(patched(new Asm().sys(NR.fork).exitWithErrno()), { policy: policy({ unknownSyscalls: 'EPERM' }) });
    expect(r.pt.exitCode).toBe(1);
  });

  it('the firewall: a connect no network.connect rule covers is -EPERM, with the same line', () => {
    // connect(100, {AF_INET, 10.0.0.1:80}, 16): the policy judges the address before the kernel
    // sees the descriptor (a socket's own number would differ: the sandbox holds /dev/dune as 3).
    const a = new Asm().sys(NR.connect, 100, { str: 'sa' }, 16).exitWithErrno()
      .string('sa', '\x02\x00\x00\x50\x0a\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00');
    const { pt } = bothWays(patched(a), { policy: policy({ network: { connect: [{ address: '127.0.0.0/8', ports: 'any' }] } }) });
    expect(pt.exitCode).toBe(1);
    expect(pt.events[0]).toMatchObject({ kind: 'denied', rule: 'no network.connect rule covers 10.0.0.1:80', outcome: '-EPERM' });
  });

  it('limits.openFiles: the second open is -EMFILE', () => {
    const a = new Asm().sys(NR.open, { str: 'p' }, 0, 0).sys(NR.open, { str: 'p' }, 0, 0).exitWithErrno().string('p', '/');
    const { pt } = bothWays(patched(a), { policy: policy({ limits: { openFiles: 1 } }) });
    expect(pt.exitCode).toBe(24);
    expect(pt.events[0]).toMatchObject({ rule: 'limits.openFiles 1 (1 open)', outcome: '-EMFILE' });
  });

  it('limits.memory: a brk past the limit returns the old break', () => {
    const a = new Asm().sys(NR.brk, 0).raw(0x48, 0x89, 0xc3) // rbx = b
      .raw(0x48, 0x8d, 0xbb, 0x00, 0x00, 0x00, 0x04) // lea rdi, [rbx + 64 MiB]
      .mov(RAX, NR.brk).raw(0x0f, 0x05)
      .raw(0x48, 0x39, 0xd8) // cmp rax, rbx
      .mov(7, 8).raw(0x75, 0x05).raw(0xbf, 0x07, 0, 0, 0) // jne +5; mov edi, 7
      .mov(RAX, NR.exit_group).raw(0x0f, 0x05);
    const { pt } = bothWays(patched(a), { policy: policy({ limits: { memory: 1 << 20 } }) });
    expect(pt.exitCode).toBe(7);
    expect(pt.events[0]!.rule).toBe('limits.memory 1048576 bytes (0 in use, 67108864 more asked)');
  });

  it('a path the supervisor cannot read (PEEKDATA fails) is -EFAULT', () => {
    const pt = ptraced(patched(new Asm().sys(NR.open, 0x10, 0, 0).exitWithErrno()), { policy: pol });
    expect(pt.exitCode).toBe(14);
    expect(pt.events[0]).toMatchObject({ kind: 'rejected', rule: 'pathname (0x10) cannot be read (PTRACE_PEEKDATA: -EIO)', outcome: '-EFAULT' });
  });

  it('limits.cycles: a program that keeps making calls is killed (SIGKILL) with a report', () => {
    // L: getpid; jmp L
    const a = new Asm().label('L').mov(RAX, NR.getpid).raw(0x0f, 0x05).raw(0x48, 0x85, 0xc0).jnz('L').sys(NR.exit_group, 0);
    const pt = ptraced(patched(a), { policy: policy({ limits: { cycles: 2_000_000 } }) });
    expect(pt.exitCode).toBe(137);
    expect(pt.events[0]).toMatchObject({ kind: 'killed', rule: 'limits.cycles 2000000', outcome: 'killed by SIGKILL' });
  });

  it('limits.cycles and limits.instructions: an endless loop without system calls is killed too (the timer tick delivers SIGKILL)', () => {
    for (const limits of [{ cycles: 2_000_000 }, { instructions: 500_000 }]) {
      const pt = ptraced(patched([0xeb, 0xfe]), { policy: policy({ limits }) }); // jmp $
      expect(pt.exitCode).toBe(137);
      expect(pt.events).toHaveLength(1);
      expect(pt.events[0]).toMatchObject({ kind: 'killed', outcome: 'killed by SIGKILL' });
      expect(pt.events[0]!.attempted).toMatch(/\(ring 3\)/);
      expect(pt.stats['cycles'] as number).toBeLessThan(4_000_000);
    }
  });
});

describe.runIf(existsSync(HELLO))('what a supervisor costs: stops, requests, switches', () => {
  const loop = (n: number): string => patched(new Asm().mov(3, n).label('L').mov(RAX, NR.getpid).raw(0x0f, 0x05).raw(0xff, 0xcb).jnz('L').sys(NR.exit_group, 0));

  it('PTRACE_SYSCALL: exactly 2 stops per allowed call (entry and exit), one for exit_group, one for the exec SIGTRAP', () => {
    const a = ptraced(loop(1));
    const b = ptraced(loop(101));
    expect(b.counts.intercepted - a.counts.intercepted).toBe(100);
    expect(b.counts.stops - a.counts.stops).toBe(200);
    expect(b.counts.syscallStops - a.counts.syscallStops).toBe(200);
    // 1 getpid and exit_group: 1 (exec) + 2 + 1 stops.
    expect(a.counts).toMatchObject({ intercepted: 2, allowed: 2, stops: 4, syscallStops: 3, signalStops: 0, peeks: 0 });
    // Per allowed call: wait4 at each stop, GETREGS at entry, PTRACE_SYSCALL at each stop.
    expect(b.counts.ptraceRequests - a.counts.ptraceRequests).toBe(300);
    expect(b.counts.supervisorSyscalls - a.counts.supervisorSyscalls).toBe(500);
    // Each stop switches to the supervisor and back; the kernel ran 100 more getpids.
    expect((b.stats['syscalls'] as number) - (a.stats['syscalls'] as number)).toBe(600);
  });

  it('a denied call: SETREGS at entry (orig_rax = -1), GETREGS + SETREGS at exit; the kernel does not run it', () => {
    const pol = policy({ syscalls: { deny: ['getpid'] } });
    const a = ptraced(loop(1), { policy: pol });
    const b = ptraced(loop(101), { policy: pol });
    expect(b.counts.denied - a.counts.denied).toBe(100);
    expect(b.counts.stops - a.counts.stops).toBe(200);
    expect(b.counts.ptraceRequests - a.counts.ptraceRequests).toBe(600);
    // wait4 ×2 and 6 ptrace requests per call; no getpid reaches the kernel.
    expect((b.stats['syscalls'] as number) - (a.stats['syscalls'] as number)).toBe(800);
  });

  it('costs more cycles than plain Linux and than the sandbox for the same calls', () => {
    const common = { profile: 'dune-e3-1230v2', memory: 512 << 20, console: (): void => {}, report: (): void => {} };
    const linux = execElf(loop(200), [], { ...common, mode: 'linux' }).stats['cycles'] as number;
    const pt = ptraced(loop(200)).stats['cycles'] as number;
    const sb = sandboxed(loop(200)).stats['cycles'] as number;
    expect(pt).toBeGreaterThan(sb);
    expect(sb).toBeGreaterThan(linux);
  });
});

describe.runIf(existsSync(HELLO))('dunesim exec --mode ptrace', () => {
  const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('runs a program, refuses a broken policy (2), reports a denial, shows the supervisor in --stats', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-cli-ptrace-'));
    try {
      let r = cli(['exec', '--mode', 'ptrace', HELLO]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Hello, Dune!');
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ limits: { openFiles: -1 } }));
      r = cli(['exec', '--mode', 'ptrace', '--policy', join(dir, 'bad.json'), HELLO]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('limits.openFiles: must be a whole number of descriptors');
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
      writeFileSync(join(dir, 'files.json'), JSON.stringify({ name: 'data', files: [{ path: '/data', access: 'rw' }] }));
      mkdirSync(join(dir, 'data'));
      const prog = patched(new Asm().sys(NR.open, { str: 'p' }, 0, 0).exitWithErrno().string('p', '../../etc/passwd'));
      r = cli(['exec', '--mode', 'ptrace', '--policy', join(dir, 'files.json'), '--root', dir, '--stats', join(dir, 's.json'), prog]);
      expect(r.status).toBe(13);
      expect(r.stderr).toContain('sandbox: denied open("../../etc/passwd", 0, 0): files: ../../etc/passwd is /etc/passwd; no files rule covers /etc/passwd → -EACCES\n');
      const stats = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as { ptrace: Record<string, unknown> };
      expect(stats.ptrace).toMatchObject({ policy: 'data', intercepted: 2, denied: 1, stops: 4 });
      expect(stats.ptrace['peeks']).toBe(3); // "../../etc/passwd\0": 17 bytes, three words at most
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(existsSync(HELLO))('bench sandbox: the policy:fileio row', () => {
  it('a restricting policy on a file-heavy program, three ways: Linux < sandbox < ptrace supervisor, deterministic', () => {
    const ctx = { profile: 'dune-e3-1230v2', progress: (): void => {} };
    const row = policyCostRow(ctx, new System([new LinuxExecMode()]), new PolicyLoader());
    expect(row.id).toBe('policy:fileio');
    const c = row.counts!;
    expect(row.dune!).toBeGreaterThan(row.linux!);
    expect(c['ptrace.cycles']).toBeGreaterThan(row.dune!);
    // The same calls reach the kernel each way; the supervisor adds its own (wait4, ptrace).
    expect(c['sandbox.syscalls']).toBe(c['linux.syscalls']);
    expect(c['ptrace.syscalls']).toBe(c['linux.syscalls'] + c['ptrace.supervisorSyscalls']);
    expect(c['ptrace.stops']).toBe(2 * c['ptrace.intercepted']);
    expect(c['ptrace.peeks']).toBeGreaterThan(0);
    expect(policyCostRow(ctx, new System([new LinuxExecMode()]), new PolicyLoader())).toEqual(row);
  }, 120_000);
});
