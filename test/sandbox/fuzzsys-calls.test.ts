/**
 * The random system-call fuzzer (attacks/fuzzsys-calls.c, SECURITY.md "fuzzsys") under a
 * restrictive policy in the sandbox and under the ptrace supervisor, and without a policy as a
 * Linux and as a Dune process. Each run must end as the program ends — exit status 0 after every
 * call it was asked to make — with no host exception, and the policy runs must not escape:
 *
 * - the runtime's memory is what it was when the program started: its code, libDune's code, the
 *   GDT, IDT and TSS hashed; the guest page-table entries of every runtime page unchanged and
 *   supervisor-only; no user page of the guest page table maps runtime memory; the unused half
 *   of the runtime's stack untouched;
 * - no file outside /scratch in the root (nor beside the root) created, changed or removed, and
 *   no read returned the bytes of /secret;
 * - no connection reached the port the policy does not allow, and no bind or denied call
 *   (getrandom) reached the kernel; under ptrace, the kernel ran exactly the calls the
 *   supervisor allowed.
 *
 * Deterministic: fixed seeds, so a failure replays with the same calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ExecOptions, execElf } from '../../core/system/index.js';
import type { ExecLaunchContext } from '../../core/framework/exec-mode.js';
import { LIBDUNE_TEXT, PAGEBASE } from '../../core/dune/libdune.js';
import type { Kernel } from '../../core/linux/kernel.js';
import type { Process } from '../../core/linux/task.js';
import { NR } from '../../core/linux/linux-abi.js';
import { PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_U } from '../../core/vtx/arch.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { PtraceLauncher } from '../../plugins/sandbox/ptrace-launcher.js';
import { SANDBOX_POOL_PAGES, SandboxLauncher } from '../../plugins/sandbox/sandbox-launcher.js';
import { RUNTIME_STACK, RUNTIME_STACK_SIZE, RUNTIME_TEXT } from '../../plugins/sandbox/sandbox-runtime.js';
import { specOf } from '../../plugins/sandbox/syscall-specs.js';
import { ROOT } from './hostile.js';
import { policy } from './run.js';

const FUZZER = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'fuzzsys-calls');
/** Calls per run: 4 runs of 25,000 make the 100,000 of the brief. */
const CALLS = 25_000;
const SECRET = 'S3CR3T-fuzzsys';

let okPort = 0;
let deniedPort = 0;
let deniedConnections = 0;
const servers: Server[] = [];

function listen(onConnection: () => void): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer((c) => {
      onConnection();
      c.destroy();
    });
    servers.push(s);
    s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
  });
}

beforeAll(async () => {
  okPort = await listen(() => {});
  deniedPort = await listen(() => deniedConnections++);
});
afterAll(() => {
  for (const s of servers) s.close();
});

/** A parent directory holding the guest's root (scratch, a secret, a read-only tree) and a file beside it. */
function makeRoot(): { parent: string; root: string } {
  const parent = mkdtempSync(join(tmpdir(), 'dunesim-fuzzsys-'));
  const root = join(parent, 'root');
  mkdirSync(join(root, 'scratch'), { recursive: true });
  mkdirSync(join(root, 'ro'));
  writeFileSync(join(root, 'secret'), `${SECRET}\n`);
  writeFileSync(join(root, 'ro', 'file'), 'read-only\n');
  writeFileSync(join(parent, 'beside-the-root'), 'host file\n');
  return { parent, root };
}

/** Every entry under `dir` but `skip`: its type, mode and content (or link target). */
function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (p === skip) continue;
      const st = lstatSync(p);
      const rel = relative(dir, p);
      if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(rel, `dir ${st.mode.toString(8)}`);
        walk(p);
      } else out.set(rel, `file ${st.mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

interface Run {
  exitCode: number;
  stdout: string;
  messages: string;
  calls: number;
  secretReads: number;
  /** System calls the kernel dispatched for the fuzzer's own process, by number. */
  dispatched: Map<number, number>;
  /** Those of them that succeeded (a result >= 0). */
  succeeded: Map<number, number>;
}

/** Counts what the kernel dispatches for `p` (the VMCALLs of the sandbox runtime too). */
function recordDispatch(k: Kernel, p: () => Process | undefined, into: Map<number, number>, ok: Map<number, number>): void {
  const dispatch = k.dispatch.bind(k);
  k.dispatch = (cpu, t, nr, regs) => {
    const mine = t.process === p();
    if (mine) into.set(nr, (into.get(nr) ?? 0) + 1);
    const r = dispatch(cpu, t, nr, regs);
    if (mine && typeof r === 'number' && r >= 0) ok.set(nr, (ok.get(nr) ?? 0) + 1);
    return r;
  };
}

function fuzz(mode: string, launcher: ExecOptions['launcher'], seed: number, root: string, extra: string[] = []): Run {
  let stdout = '';
  let messages = '';
  const dec = new TextDecoder();
  const r = execElf(FUZZER, [String(seed), String(CALLS), String(okPort), String(deniedPort), ...extra], {
    mode, launcher, profile: 'dune-e3-1230v2', memory: 512 << 20, root, envp: [], netIdleTimeoutMs: 10_000,
    console: (fd, data) => {
      if (fd === 1) stdout += dec.decode(data);
      else messages += dec.decode(data);
    },
    report: (line) => (messages += line),
  });
  const calls = Number(/^fuzzsys: calls (\d+)$/m.exec(stdout)?.[1] ?? -1);
  const secretReads = Number(/^secret-read (\d+)$/m.exec(stdout)?.[1] ?? -1);
  console.log(`fuzzsys ${mode}: ${calls} calls, exit status ${r.exitCode}`);
  return { exitCode: r.exitCode, stdout, messages, calls, secretReads, dispatched: new Map(), succeeded: new Map() };
}

/** A run ended as the program ended, having made every call, with no host error in what it said. */
function expectClean(r: Run): void {
  expect(r.messages).not.toMatch(/internal error|Error:|\n\s+at /);
  expect(r.calls).toBe(CALLS);
  expect(r.exitCode).toBe(0);
}

// ---- the sandbox's own memory ------------------------------------------------------------------

/** Reads 8 bytes of host memory behind a guest-physical address of the identity window (gpa = hva). */
function gpaReader(k: Kernel, p: Process): (gpa: number) => { lo: number; hi: number } | undefined {
  return (gpa) => {
    const f = p.mm.frameAt(gpa - (gpa % PAGE_SIZE));
    if (f === undefined) return undefined;
    const pa = f.frame + (gpa % PAGE_SIZE);
    return { lo: k.machine.mem.read32(pa), hi: k.machine.mem.read32(pa + 4) };
  };
}

const frameOf = (lo: number, hi: number): number => ((lo & 0xffff_f000) >>> 0) + (hi & 0xf_ffff) * 0x1_0000_0000;

/** Every present leaf of the guest page table at `root`: va → [lo, hi, level]. */
function guestLeaves(read: (gpa: number) => { lo: number; hi: number } | undefined, root: number): Map<number, [number, number, number]> {
  const out = new Map<number, [number, number, number]>();
  const walk = (table: number, level: number, base: number): void => {
    for (let i = 0; i < 512; i++) {
      const e = read(table + i * 8);
      if (e === undefined || (e.lo & PTE_P) === 0) continue;
      const va = base + i * 2 ** (12 + 9 * (level - 1));
      if (level === 1 || (level > 1 && (e.lo & PTE_PS) !== 0)) out.set(va, [e.lo, e.hi, level]);
      else walk(frameOf(e.lo, e.hi), level - 1, va);
    }
  };
  walk(root, 4, 0);
  return out;
}

interface RuntimeImage {
  /** sha256 of the runtime's code, libDune's code, GDT, IDT, TSS and the unused half of the runtime stack. */
  hashes: Record<string, string>;
  /** Guest page-table leaves over runtime memory (its code, its stack, libDune's code, the pool). */
  runtimeLeaves: Map<number, string>;
  /** User-accessible leaves (PTE_U) that map runtime memory. */
  userLeavesOnRuntime: string[];
}

function runtimeMemory(va: number): boolean {
  return (va >= RUNTIME_TEXT && va < RUNTIME_STACK + RUNTIME_STACK_SIZE) || (va >= LIBDUNE_TEXT && va < PAGEBASE + SANDBOX_POOL_PAGES * PAGE_SIZE);
}

/** The guest's descriptor tables and page-table root, as libDune loaded them (they do not move). */
interface GuestBases {
  cr3: number;
  gdt: number;
  idt: number;
  tss: number;
}

const basesOf = (cpu: Cpu): GuestBases => ({ cr3: cpu.cr3, gdt: cpu.gdtrBase, idt: cpu.idtrBase, tss: cpu.trBase });

function imageOf(k: Kernel, p: Process, g: GuestBases, lib: SandboxLauncher['lib']): RuntimeImage {
  const mem = k.machine.mem;
  const bytes = (va: number, len: number): string => {
    const h = createHash('sha256');
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const f = p.mm.frameAt(va + off);
      h.update(f === undefined ? 'unmapped' : mem.u8.subarray(f.frame, f.frame + Math.min(PAGE_SIZE, len - off)));
    }
    return h.digest('hex');
  };
  const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
  const hashes = {
    runtimeCode: bytes(RUNTIME_TEXT, PAGE_SIZE),
    libduneCode: bytes(LIBDUNE_TEXT, pageUp(lib!.text.build().length)),
    gdt: bytes(g.gdt - (g.gdt % PAGE_SIZE), PAGE_SIZE),
    idt: bytes(g.idt - (g.idt % PAGE_SIZE), PAGE_SIZE),
    tss: bytes(g.tss - (g.tss % PAGE_SIZE), PAGE_SIZE),
    unusedRuntimeStack: bytes(RUNTIME_STACK, RUNTIME_STACK_SIZE / 2),
  };
  const leaves = guestLeaves(gpaReader(k, p), g.cr3 - (g.cr3 % PAGE_SIZE));
  const runtimeLeaves = new Map<number, string>();
  const userLeavesOnRuntime: string[] = [];
  for (const [va, [lo, hi, level]] of leaves) {
    // The entry as libDune wrote it: A and D are the CPU's to set as the runtime runs.
    if (runtimeMemory(va)) runtimeLeaves.set(va, `${((lo & ~(PTE_A | PTE_D)) >>> 0).toString(16)}:${hi.toString(16)}`);
    const size = 2 ** (12 + 9 * (level - 1));
    const frame = frameOf(lo, hi);
    if ((lo & PTE_U) !== 0 && (runtimeMemory(frame) || runtimeMemory(frame + size - 1))) {
      userLeavesOnRuntime.push(`0x${va.toString(16)} → 0x${frame.toString(16)}`);
    }
  }
  return { hashes, runtimeLeaves, userLeavesOnRuntime };
}

/** The sandbox launcher, with the runtime's memory taken when the program starts and when it ends. */
class ObservedSandbox extends SandboxLauncher {
  before: RuntimeImage | undefined;
  after: RuntimeImage | undefined;
  private bases: GuestBases | undefined;
  readonly dispatched = new Map<number, number>();
  readonly succeeded = new Map<number, number>();
  private proc: Process | undefined;

  override launch(ctx: ExecLaunchContext): Process {
    const p = super.launch(ctx);
    this.proc = p;
    const k = ctx.kernel;
    const lib = this.lib!;
    const jump = lib.jumpToUser.bind(lib);
    lib.jumpToUser = (cpu, rip, rsp, cont) => {
      this.bases ??= basesOf(cpu);
      this.before ??= imageOf(k, p, this.bases, lib);
      jump(cpu, rip, rsp, cont);
    };
    // The end: the runtime's exit_group (a VMCALL), before the kernel tears the memory down.
    const exit = k.exitProcess.bind(k);
    k.exitProcess = (cpu, proc, status) => {
      if (proc === p && this.after === undefined && this.bases !== undefined) this.after = imageOf(k, p, this.bases, lib);
      exit(cpu, proc, status);
    };
    recordDispatch(k, () => this.proc, this.dispatched, this.succeeded);
    return p;
  }
}

/** The ptrace launcher, counting what the kernel runs for the traced program. */
class ObservedPtrace extends PtraceLauncher {
  readonly dispatched = new Map<number, number>();
  readonly succeeded = new Map<number, number>();

  override launch(ctx: ExecLaunchContext): Process {
    const program = super.launch(ctx);
    recordDispatch(ctx.kernel, () => program, this.dispatched, this.succeeded);
    return program;
  }
}

const FUZZ_POLICY = () => policy({
  name: 'fuzzsys',
  files: [{ path: '/scratch', access: 'rw' }],
  network: { connect: [{ address: '127.0.0.1', ports: okPort }] },
  limits: { openFiles: 24, memory: 64 << 20, instructions: 1_000_000_000 },
  syscalls: { deny: ['getrandom'] },
});

/** What a policy run must not have done to the host: files outside /scratch, the secret, the denied port. */
function expectNoHostEscape(parent: string, root: string, before: Map<string, string>, r: Run, denied0: number): void {
  expect(snapshot(parent, join(root, 'scratch'))).toEqual(before);
  expect(r.secretReads).toBe(0);
  expect(deniedConnections).toBe(denied0);
  // No bind succeeded (network.bind allows none: one the firewall cannot judge — a NULL or short
  // address — reaches the kernel, which refuses it), and getrandom, denied, never ran.
  expect(r.succeeded.get(NR.bind) ?? 0, 'binds that succeeded').toBe(0);
  expect(r.dispatched.get(NR.getrandom) ?? 0, 'getrandom calls that ran').toBe(0);
}

describe.runIf(existsSync(FUZZER))('fuzzsys: random system calls', () => {
  it('in the sandbox under a restrictive policy: no host error, no escape', async () => {
    const { parent, root } = makeRoot();
    try {
      const before = snapshot(parent, join(root, 'scratch'));
      const denied0 = deniedConnections;
      const l = new ObservedSandbox(FUZZ_POLICY());
      const r = fuzz('sandbox', l, 1, root);
      await new Promise((res) => setTimeout(res, 50)); // connections the host accepted are counted
      expectClean(r);
      r.dispatched = l.dispatched;
      r.succeeded = l.succeeded;
      expectNoHostEscape(parent, root, before, r, denied0);
      // The runtime's memory as the program found it.
      expect(l.before).toBeDefined();
      expect(l.after).toBeDefined();
      expect(l.after!.hashes).toEqual(l.before!.hashes);
      expect(l.after!.runtimeLeaves).toEqual(l.before!.runtimeLeaves);
      expect(l.before!.runtimeLeaves.size).toBeGreaterThan(100);
      for (const e of l.after!.runtimeLeaves.values()) expect(parseInt(e.split(':')[0]!, 16) & PTE_U).toBe(0);
      expect(l.after!.userLeavesOnRuntime).toEqual([]);
      // Only calls the sandbox has a table for reached the kernel (DUNE's ioctl and the end aside).
      const unknown = [...l.dispatched.keys()].filter((nr) => specOf(nr) === undefined && nr !== NR.kill && nr !== NR.rt_sigaction);
      expect(unknown).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 120_000);

  it('under the ptrace supervisor with the same policy: no host error, no escape, the kernel runs only what it allowed', async () => {
    const { parent, root } = makeRoot();
    try {
      const before = snapshot(parent, join(root, 'scratch'));
      const denied0 = deniedConnections;
      const l = new ObservedPtrace(FUZZ_POLICY());
      const r = fuzz('ptrace', l, 2, root);
      await new Promise((res) => setTimeout(res, 50));
      expectClean(r);
      r.dispatched = l.dispatched;
      r.succeeded = l.succeeded;
      expectNoHostEscape(parent, root, before, r, denied0);
      // Each call the supervisor allowed ran once (the program's last exit_group is one of them);
      // none that it denied or rejected did.
      const ran = [...l.dispatched.values()].reduce((a, b) => a + b, 0);
      const c = l.supervisor!.counts;
      expect(c.allowed + c.denied + c.rejected).toBe(c.intercepted);
      expect(ran).toBe(c.allowed);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 120_000);

  for (const [mode, seed, extra] of [['linux', 3, []], ['dune', 4, ['trusted']]] as const) {
    it(`as a ${mode === 'linux' ? 'Linux' : 'Dune'} process without a policy: no host error`, () => {
      const { parent, root } = makeRoot();
      try {
        expectClean(fuzz(mode, undefined, seed, root, [...extra]));
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
