import { PAGE_SIZE, Vector } from '../../vtx/arch.js';
import type { CodeBuilder } from '../../vtx/code-builder.js';
import { Cpu, RAX, RCX, RDI, RDX, RSI, RSP, R8, R9, R10, R11 } from '../../vtx/cpu.js';
import { writeGdt, writeIdtGate, writeTss } from '../../vtx/descriptors.js';
import {
  MAP_ANONYMOUS, MAP_PRIVATE, NR, PROT_READ, PROT_WRITE, DUNE_ENTER, DUNE_GET_LAYOUT, DUNE_GET_SYSCALL,
  SIGCHLD, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, SIG_IGN,
} from '../../linux/linux-abi.js';
import { Process, Task, TaskState } from '../../linux/task.js';
import { Vma } from '../../linux/vma.js';
import { syscall } from '../../linux/user-abi.js';
import { DUNE_CFG, DUNE_CONFIG_SIZE, DuneRet, PERM_R, PERM_U, PERM_W, PERM_X } from '../dune-abi.js';
import { DuneLayout } from '../dune-layout.js';
import { DuneThread } from '../dune-thread.js';
import type { LibDune } from '../libdune.js';
import { PAGEBASE } from './page-pool.js';
import { PERCPU } from './trap-frame.js';

const TWO_32 = 0x1_0000_0000;

/** Where libDune's own code lives (supervisor-only in the guest page table). */
export const LIBDUNE_TEXT = 0xbf00_0000;
/** Pages of a thread's entry stack, where libDune's Linux-mode side runs (see DuneThread). */
const ENTRY_STACK_PAGES = 8;
/** Pool pages of one thread's state: GDT, TSS, per-CPU area, 4 of trap stack, config, entry stack. */
const THREAD_POOL_PAGES = 8 + ENTRY_STACK_PAGES;

/** What a process running an unmodified Linux program does where libdune's on_dune_exit would end it. */
export type FatalExitHook = (ret: DuneRet, status: number, process: Process) => { signo: number; code: number; addr: number } | undefined;

/**
 * Getting into Dune and staying there (entry.c): dune_init (the guest page table, the pool, the
 * SYSCALL trampoline, the IDT), each thread's descriptor tables and per-CPU state
 * (create_percpu, setup_gdt), dune_enter (__dune_enter's config and the DUNE_ENTER ioctl),
 * on_dune_exit when the ioctl returns, and libDune's fork wrapper for children.
 */
export class Entry {
  initialized = false;
  /** The process's IDT (a pool page). */
  idt = 0;
  /** The guest LSTAR address (DUNE_GET_SYSCALL), where the trampoline is mapped. */
  private lstar = 0;
  /** The threads that entered (or will enter) Dune, each with its own per-CPU state. */
  readonly threads = new Map<Task, DuneThread>();
  /**
   * What a process running an unmodified Linux program (exec --mode dune) does where libdune's
   * on_dune_exit would end it: returns the signal and siginfo Linux would have raised for the
   * same fault, or undefined to end as libdune does.
   */
  onFatalExit: FatalExitHook | undefined;
  /** The last fatal DUNE_RET outcome (for reports and tests). */
  lastExit: { ret: number; status: number } | undefined;

  constructor(private readonly lib: LibDune, parent?: Entry) {
    if (parent !== undefined) {
      this.initialized = parent.initialized;
      this.idt = parent.idt;
      this.lstar = parent.lstar;
      this.onFatalExit = parent.onFatalExit;
    }
  }

  /**
   * dune_init: opens /dev/dune, asks for the layout and the LSTAR address, builds the guest page
   * table in the pool (full: the three windows with U; precise: the process's VMAs without U),
   * the pool itself (no U), libDune's code (no U), the SYSCALL trampoline at the LSTAR address,
   * and a GDT, TSS and IDT per thread. Runs in the process as it starts (host user mode).
   */
  init(cpu: Cpu, mapFull: boolean): void {
    const lib = this.lib;
    const { kernel: k, process: p, mem: acc, pool, vm } = lib;
    const mm = p.mm;
    const task = k.current[cpu.index];
    if (task === undefined || task.process !== p) throw new Error('libdune: dune_init must run in the process');
    // The page pool and libDune's text are ordinary process memory.
    mm.vmas.insert(new Vma(PAGEBASE, pool.limit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[dune pool]'));
    k.mapCode(p, lib.text, '[libdune]');
    const dev = k.devices.get('/dev/dune');
    if (dev === undefined) throw new Error('libdune: /dev/dune is missing (is the Dune module loaded?)');
    lib.fd = p.allocFd(dev(task));
    const file = p.files.get(lib.fd)!;
    // DUNE_GET_LAYOUT into a scratch page of the pool, DUNE_GET_SYSCALL for LSTAR.
    const buf = PAGEBASE;
    acc.hostPa(buf);
    if (file.ioctl!(task, DUNE_GET_LAYOUT, buf) !== 0) throw new Error('libdune: DUNE_GET_LAYOUT failed');
    const rd = (o: number): number => acc.read64(buf + o);
    const physLimit = rd(0);
    lib.layout = new DuneLayout(physLimit / 3, rd(16) + physLimit / 3, k.machine.physBits);
    this.lstar = file.ioctl!(task, DUNE_GET_SYSCALL, 0);
    pool.next = PAGEBASE;
    lib.pgroot = pool.pageAlloc();
    const root = lib.pgroot;
    const all = PERM_R | PERM_W | PERM_X | PERM_U;
    const L = lib.layout;
    if (mapFull) {
      // The identity window minus the pool and libDune's text, which get their own mappings.
      vm.vmMapPhys(root, 0, LIBDUNE_TEXT, 0, all);
      vm.vmMapPhys(root, L.baseMap, L.window, L.window, all);
      vm.vmMapPhys(root, L.baseStack, L.window, 2 * L.window, all);
    } else {
      for (const v of mm.vmas.list) {
        if (v.start >= LIBDUNE_TEXT && v.end <= pool.limit) continue;
        const perm = (v.readable ? PERM_R : 0) | (v.writable ? PERM_W : 0) | (v.executable ? PERM_X : 0);
        for (let va = v.start; va < v.end; va += PAGE_SIZE) {
          const gpa = L.hvaToGpa(va);
          if (gpa >= 0) vm.vmMapPhys(root, va, PAGE_SIZE, gpa, perm | PERM_R);
        }
      }
    }
    vm.vmMapPhys(root, LIBDUNE_TEXT, lib.text.build().length, LIBDUNE_TEXT, PERM_R | PERM_X);
    vm.vmMapPhys(root, PAGEBASE, pool.limit - PAGEBASE, PAGEBASE, PERM_R | PERM_W);
    // The SYSCALL trampoline: guest LSTAR (a kernel address) → a pool page holding __dune_syscall.
    const tramp = pool.pageAlloc();
    const off = this.lstar % PAGE_SIZE;
    const [entryA, entryB] = lib.duneS.trampoline();
    const mem = k.machine.mem;
    k.machine.natives.install(mem, acc.hostPa(tramp) + off, entryA);
    k.machine.natives.install(mem, acc.hostPa(tramp) + off + 7, entryB);
    vm.vmMapPhys(root, this.lstar - off, PAGE_SIZE, tramp, PERM_R | PERM_X);
    // "Disable signals for now until we have better support": sigaction(SIG_IGN) for 1..31
    // except SIGTSTP, SIGSTOP, SIGKILL, SIGCHLD, SIGINT and SIGTERM. (A pending signal that
    // becomes ignored is discarded, as sigaction does.)
    for (let sig = 1; sig < 32; sig++) {
      if (sig === SIGTSTP || sig === SIGSTOP || sig === SIGKILL || sig === SIGCHLD || sig === SIGINT || sig === SIGTERM) continue;
      Object.assign(p.actions[sig]!, { handler: SIG_IGN, flags: 0, restorer: 0, maskLo: 0, maskHi: 0 });
      for (const t of p.threads) {
        const i = t.pending.findIndex((x) => x.signo === sig);
        if (i >= 0) t.pending.splice(i, 1);
      }
    }
    // Descriptor tables and the calling thread's per-CPU area (the IDT is the process's).
    const gdt = pool.pageAlloc();
    this.idt = pool.pageAlloc();
    for (let v = 0; v < 256; v++) {
      writeIdtGate(mem, acc.hostPa(this.idt), v, lib.text.addr(`intr${v}`), { type: 0xe, dpl: v === Vector.Breakpoint ? 3 : 0, ist: 0 });
    }
    this.threads.set(task, this.newThread(gdt));
    this.initialized = true;
  }

  /**
   * A thread's GDT, TSS, per-CPU area, trap stack, dune_config and entry stack, from the pool
   * (dune_enter's create_percpu). Host-side writes: the thread is in Linux mode.
   */
  private newThread(gdt = this.lib.pool.pageAlloc()): DuneThread {
    const { pool, mem: acc } = this.lib;
    const mem = this.lib.kernel.machine.mem;
    const tss = pool.pageAlloc();
    const percpu = pool.pageAlloc();
    const stack = pool.pageAlloc();
    for (let i = 0; i < 3; i++) pool.pageAlloc();
    const trapStackTop = stack + 4 * PAGE_SIZE;
    writeGdt(mem, acc.hostPa(gdt), tss);
    writeTss(mem, acc.hostPa(tss), [trapStackTop], [trapStackTop]);
    acc.write64(percpu + PERCPU.self, percpu);
    acc.write64(percpu + PERCPU.inUsermode, 0);
    acc.write64(percpu + PERCPU.trapStack, trapStackTop);
    const conf = pool.pageAlloc();
    const entry = pool.pageAlloc();
    for (let i = 1; i < ENTRY_STACK_PAGES; i++) pool.pageAlloc();
    return new DuneThread(gdt, tss, percpu, trapStackTop, conf, entry + ENTRY_STACK_PAGES * PAGE_SIZE);
  }

  /** The calling thread's libDune state. */
  threadOf(cpu: Cpu): DuneThread {
    const t = this.lib.kernel.current[cpu.index];
    const th = t === undefined ? undefined : this.threads.get(t);
    if (th === undefined) throw new Error('libdune: the thread on this CPU has no libDune state (dune_enter before dune_init?)');
    return th;
  }

  /**
   * Emits dune_enter into a program: `DUNE_ENTER` (ioctl), then on_dune_exit for when the ioctl
   * returns in Linux mode; inside Dune, execution goes on at `cont`.
   */
  emitEnter(code: CodeBuilder, label: string, cont: string): void {
    // dune_enter runs in the process (host ring 3); what follows it runs inside Dune (guest ring 0).
    code.ring(3).op(label, (cpu) => {
      if (!this.initialized) throw new Error('libdune: dune_enter before dune_init');
      this.enterFrom(cpu, this.threadOf(cpu), code.addr(cont));
    }, 20);
    code.ring(0);
  }

  /**
   * __dune_enter: the registers into the thread's dune_config (RIP = __dune_ret, which goes on
   * at `resumeAt` inside Dune), then to the entry stack and the DUNE_ENTER ioctl.
   */
  enterFrom(cpu: Cpu, th: DuneThread, resumeAt: number): void {
    const lib = this.lib;
    const mem = lib.kernel.machine.mem;
    const w = (o: number, v: number): void => mem.write64Number(lib.mem.hostPa(th.confVa + o), v);
    for (const [reg, name] of [[RAX, 'rax'], [3, 'rbx'], [RCX, 'rcx'], [RDX, 'rdx'], [RSI, 'rsi'], [RDI, 'rdi'], [5, 'rbp'], [R8, 'r8'], [R9, 'r9'], [R10, 'r10'], [R11, 'r11'], [12, 'r12'], [13, 'r13'], [14, 'r14'], [15, 'r15']] as const) {
      w(DUNE_CFG[name], cpu.reg(reg));
    }
    w(DUNE_CFG.rsp, cpu.rsp);
    w(DUNE_CFG.rip, lib.text.addr('__dune_ret'));
    w(DUNE_CFG.rflags, 0x2);
    w(DUNE_CFG.cr3, lib.pgroot);
    w(DUNE_CFG.vcpu, 0);
    th.resumeAt = resumeAt;
    cpu.setReg(RSP, th.entryStackTop);
    cpu.jump(lib.text.addr('__dune_go_dune'));
  }

  /**
   * What a forked child or a new thread runs first, in Linux mode (the module starts it there at
   * the return address the trampoline gave: see DuneS.syscallTrampoline). libDune's fork
   * wrapper: dune_enter on a vCPU of its own, then on inside Dune where the clone returns, with
   * RAX = 0. A fork child keeps the per-CPU state of the thread that forked (its copy, in its
   * copy of the memory); a new thread gets its own; a child sharing the memory without being a
   * thread (vfork, posix_spawn) stays in Linux mode — its per-CPU state would be its parent's,
   * and it only execs or exits.
   */
  forkChild(cpu: Cpu): void {
    const lib = this.lib;
    const k = lib.kernel;
    const task = k.current[cpu.index]!;
    const from = task.forkedFrom;
    task.forkedFrom = undefined;
    const ret = cpu.reg(R11);
    // What SYSCALL's return leaves: RCX = the return address, R11 = RFLAGS.
    cpu.setReg(RCX, ret);
    cpu.setReg(R11, cpu.rflags);
    const p = task.process;
    const parentThread = from === undefined ? undefined : this.threads.get(from);
    if (parentThread === undefined || (p !== lib.process && p.mm === lib.process.mm)) {
      cpu.jump(ret);
      return;
    }
    let child: LibDune = lib;
    let th: DuneThread;
    if (p === lib.process) {
      // A dead thread's per-CPU state is free again; else new state from the pool. With the pool
      // full the thread stays in Linux mode (as a failed dune_enter leaves it), never a crash.
      let reused: DuneThread | undefined;
      for (const [t, x] of this.threads) {
        if (t.state === TaskState.Dead) {
          this.threads.delete(t);
          reused = x;
          break;
        }
      }
      if (reused !== undefined) {
        th = reused;
        writeGdt(k.machine.mem, lib.mem.hostPa(th.gdt), th.tss);
        lib.mem.hostSide(() => lib.mem.write64(th.percpu + PERCPU.inUsermode, 0));
      } else if (lib.pool.pagesLeft() >= THREAD_POOL_PAGES) {
        th = lib.mem.hostSide(() => this.newThread());
      } else {
        cpu.jump(ret);
        return;
      }
    } else {
      child = lib.forkInto(p);
      th = new DuneThread(parentThread.gdt, parentThread.tss, parentThread.percpu, parentThread.trapStackTop, parentThread.confVa, parentThread.entryStackTop);
      // setup_gdt on every dune_enter: the copy's TSS descriptor is busy from the parent's LTR,
      // and LTR of a busy TSS is #GP (SDM Vol. 2A LTR).
      writeGdt(k.machine.mem, child.mem.hostPa(th.gdt), th.tss);
    }
    child.entry.threads.set(task, th);
    child.entry.enterFrom(cpu, th, ret);
  }

  /** on_dune_exit: what libdune does when DUNE_ENTER returns in Linux mode. */
  onDuneExit(cpu: Cpu): void {
    const lib = this.lib;
    const k = lib.kernel;
    const th = this.threadOf(cpu);
    const conf = th.confVa;
    // Read through the process's page tables now, not the cached frame of hostPa: after a fork
    // the module's write of the config broke copy-on-write, and the cached frame is the child's.
    const r = (o: number): number => {
      const b = k.accessProcessVm(lib.process, conf + o, 8)!;
      return (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) * TWO_32 + ((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
    };
    const ret = r(DUNE_CFG.ret);
    const status = r(DUNE_CFG.status);
    switch (ret as DuneRet) {
      case DuneRet.Exit:
        // The call that ended the vCPU is still in RAX: exit ends this thread, exit_group the
        // group (Linux's group exit; the real module's override would leave the siblings).
        syscall(cpu, r(DUNE_CFG.rax) === NR.exit ? NR.exit : NR.exit_group, status);
        return;
      case DuneRet.Signal:
        // The host handler ran: __dune_go_dune re-enters with the dune_config the module left
        // (the guest's registers, RIP and CR3), so the guest goes on where it was.
        cpu.jump(lib.text.addr('__dune_go_dune'));
        return;
      default: {
        const sig = this.onFatalExit?.(ret, status, lib.process);
        if (sig !== undefined) {
          // rt_tgsigqueueinfo to itself with the fault's siginfo; once a handler returns,
          // __dune_go_dune re-enters and the guest meets its fault again, as on Linux.
          const info = new Uint8Array(128);
          const dv = new DataView(info.buffer);
          dv.setInt32(0, sig.signo, true);
          dv.setInt32(8, sig.code, true);
          dv.setUint32(16, sig.addr >>> 0, true);
          dv.setUint32(20, Math.floor(sig.addr / TWO_32) >>> 0, true);
          k.accessProcessVm(lib.process, conf + DUNE_CONFIG_SIZE, info.length, info);
          const t = k.current[cpu.index]!;
          syscall(cpu, NR.rt_tgsigqueueinfo, lib.process.pid, t.tid, sig.signo, conf + DUNE_CONFIG_SIZE);
          return;
        }
        const msg = new TextEncoder().encode(`dune: exit due to ${DuneRet[ret] ?? ret} (status 0x${status.toString(16)})\n`);
        k.console(2, msg);
        this.lastExit = { ret, status };
        syscall(cpu, NR.exit_group, 1); // exit(EXIT_FAILURE), as libdune's on_dune_exit ends
      }
    }
  }
}
