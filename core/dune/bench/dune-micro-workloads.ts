import { PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W } from '../../vtx/arch.js';
import { CodeBuilder } from '../../vtx/code-builder.js';
import { Cpu, RAX, RDI, RSI } from '../../vtx/cpu.js';
import { Machine } from '../../vtx/machine.js';
import { ProfileFile } from '../../vtx/cost-model.js';
import { bootLinux } from '../../system/boot-linux.js';

/** A cost profile by name, or loaded (calibration scripts pass modified copies). */
export type ProfileRef = string | ProfileFile;
import { Kernel } from '../../linux/kernel.js';
import {
  MAP_ANONYMOUS, MAP_PRIVATE, NR, PROT_READ, PROT_WRITE, PTRACE_CONT, PTRACE_SYSCALL, PTRACE_SYSEMU,
  PTRACE_TRACEME, SA_RESTORER, SA_SIGINFO, SIGSEGV, SIGSTOP, SI_ADDR,
} from '../../linux/linux-abi.js';
import { loadSyscallArgs, result, syscall } from '../../linux/user-abi.js';
import { Process } from '../../linux/task.js';
import { DuneModule } from '../dune-module.js';
import { LibDune, TF } from '../libdune.js';
import { PERM_R, PERM_W } from '../dune-abi.js';

/** One measured operation: cycles per operation and the mechanism counts per operation. */
export interface Measurement {
  cycles: number;
  counts: Record<string, number>;
}

/** Pages of the Appel & Li passes (bench/micro/bench.h NRPGS) and of the page-walk working set. */
export const NRPGS = 100;
export const WALK_PAGES = 1 << 16;
const MAP_ADDR = 0x4000_0000_0000; // bench_dune.c

/** The counters that explain a figure, as deltas per operation. */
const COUNTERS: Array<[string, string]> = [
  ['vmExits', 'cpu0.vmx.exits'],
  ['vmcallExits', 'cpu0.vmx.exits.Vmcall'],
  ['eptViolationExits', 'cpu0.vmx.exits.EptViolation'],
  ['syscalls', 'cpu0.syscalls'],
  ['exceptions', 'cpu0.exceptions'],
  ['pageFaults', 'cpu0.exceptions.PF'],
  ['tlbMisses', 'cpu0.tlb.misses'],
  ['walkRefs', 'cpu0.mmu.walkRefs'],
  ['contextSwitches', 'linux.contextSwitches'],
  ['signals', 'linux.signals'],
  ['tlbFlushes', 'cpu0.tlb.flushes'],
];

/** A machine with the Linux model and the Dune module, one CPU (the paper pins benchmarks). */
export class MicroRig {
  readonly m: Machine;
  readonly k: Kernel;
  readonly dune: DuneModule;
  private snap: number[] = [];
  private t0 = 0;

  constructor(profile: ProfileRef) {
    const { machine, kernel } = bootLinux({ memory: 768 << 20, profile });
    this.m = machine;
    this.k = kernel;
    this.dune = new DuneModule(this.k);
  }

  get cpu(): Cpu {
    return this.m.cpus[0]!;
  }

  /** Start of the measured region (as rdtsc; TSC overhead subtracted, as the paper does). */
  begin(cpu: Cpu): void {
    this.t0 = cpu.cycles;
    this.snap = COUNTERS.map(([, n]) => this.m.stats.get(n));
  }

  end(cpu: Cpu, ops: number): Measurement {
    const counts: Record<string, number> = {};
    COUNTERS.forEach(([k, n], i) => {
      const d = (this.m.stats.get(n) - this.snap[i]!) / ops;
      if (d !== 0) counts[k] = Math.round(d * 100) / 100;
    });
    return { cycles: (cpu.cycles - this.t0) / ops, counts };
  }

  run(): void {
    this.k.start();
    this.k.run(1e13);
  }
}

/** A Dune process: dune_init(full) + dune_enter, then `body` in guest ring 0. */
function duneProcess(rig: MicroRig, name: string, body: (c: CodeBuilder, lib: LibDune, p: Process) => void): LibDune {
  let lib!: LibDune;
  rig.k.spawn(name, (c, p) => {
    lib = new LibDune(rig.k, p, { poolPages: 12288 });
    c.op('main', (cpu) => lib.init(cpu, true), 1);
    lib.emitEnter(c, 'dune_enter', 'guest');
    body(c, lib, p);
    return 'main';
  });
  return lib;
}

/**
 * A system call the way each side makes it: SYSCALL from a Linux process, VMCALL from guest ring
 * 0 (what bench_dune.c's inline assembly and dune_mmap do). The native's last action.
 */
function sys(cpu: Cpu, guest: boolean, nr: number, ...args: number[]): void {
  loadSyscallArgs(cpu, nr, ...args);
  if (guest) cpu.vmcall();
  else cpu.syscall();
}

/** Exit through VMCALL (guest) or SYSCALL (Linux). */
function exitOp(c: CodeBuilder, guest: boolean): void {
  c.op(undefined, (cpu) => sys(cpu, guest, NR.exit_group, 0), 2);
}

// ---- getpid -----------------------------------------------------------------------------------

export function getpid(profile: ProfileRef, dune: boolean, n = 10_000): Measurement {
  const rig = new MicroRig(profile);
  let out!: Measurement;
  let i = 0;
  const body = (c: CodeBuilder, guest: boolean): void => {
    c.op(guest ? 'guest' : 'main', (cpu) => rig.begin(cpu), 0);
    // movq $39, %rax; syscall (Linux) / vmcall (Dune); the loop's inc/cmp/jne.
    c.op('loop', (cpu) => sys(cpu, guest, NR.getpid), 2);
    c.op(undefined, (cpu) => {
      if (++i < n) cpu.jump(c.addr('loop'));
    }, 3);
    c.op(undefined, (cpu) => (out = rig.end(cpu, n)), 0);
    exitOp(c, guest);
  };
  runAsLinuxOrDune(rig, dune, 'getpid', body);
  return out;
}

/** Runs `body` as a Linux process (its code at 'main') or as a Dune process (at 'guest'), to the end. */
function runAsLinuxOrDune(rig: MicroRig, dune: boolean, name: string, body: (c: CodeBuilder, guest: boolean) => void): void {
  if (dune) duneProcess(rig, name, (c) => body(c, true));
  else rig.k.spawn(name, (c) => (body(c, false), 'main'));
  rig.run();
}

// ---- page fault: touch fresh pages of an anonymous mapping -------------------------------------

export function pageFault(profile: ProfileRef, dune: boolean, n = 2_000): Measurement {
  const rig = new MicroRig(profile);
  let out!: Measurement;
  let base = 0;
  let i = 0;
  const body = (c: CodeBuilder, guest: boolean): void => {
    c.op(guest ? 'guest' : 'main', (cpu) => sys(cpu, guest, NR.mmap, 0, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 6);
    c.op(undefined, (cpu) => {
      base = result(cpu);
      rig.begin(cpu);
    }, 0);
    c.op('loop', (cpu) => {
      cpu.mmu.write8(base + i * PAGE_SIZE, i & 0xff); // fm[i * PGSIZE] = i
      if (++i < n) cpu.jump(c.addr('loop'));
    }, 4);
    c.op(undefined, (cpu) => (out = rig.end(cpu, n)), 0);
    exitOp(c, guest);
  };
  runAsLinuxOrDune(rig, dune, 'fault', body);
  return out;
}

// ---- page walk: random page-aligned reads over 2^16 resident pages ----------------------------

export function pageWalk(profile: ProfileRef, dune: boolean, accesses = 100_000): Measurement {
  const rig = new MicroRig(profile);
  let out!: Measurement;
  let base = 0;
  let i = 0;
  let x = 2463534242;
  const order = new Float64Array(accesses);
  const body = (c: CodeBuilder, guest: boolean): void => {
    c.op(guest ? 'guest' : 'main', (cpu) => sys(cpu, guest, NR.mmap, 0, WALK_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 6);
    c.op(undefined, (cpu) => {
      base = result(cpu);
      for (let k = 0; k < accesses; k++) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        order[k] = base + (x % WALK_PAGES) * PAGE_SIZE;
      }
    }, 0);
    c.op('touch', (cpu) => {
      cpu.mmu.write8(base + i * PAGE_SIZE, 1); // populate every page first
      if (++i < WALK_PAGES) cpu.jump(c.addr('touch'));
      else i = 0;
    }, 3);
    c.op(undefined, (cpu) => rig.begin(cpu), 0);
    c.op('loop', (cpu) => {
      cpu.mmu.read8(order[i]!);
      if (++i < accesses) cpu.jump(c.addr('loop'));
    }, 4);
    c.op(undefined, (cpu) => {
      const mm = rig.end(cpu, accesses);
      // Cycles spent in page walks per memory reference (the paper's performance-counter ratio).
      out = { cycles: ((mm.counts.walkRefs ?? 0) * rig.m.costs.walkRef), counts: mm.counts };
    }, 0);
    exitOp(c, guest);
  };
  runAsLinuxOrDune(rig, dune, 'walk', body);
  return out;
}

// ---- ptrace: getpid intercepted and forwarded --------------------------------------------------

/**
 * Linux: a tracer forwards each getpid of its tracee (PTRACE_SYSCALL: stops at entry and exit);
 * with `emulate`, PTRACE_SYSEMU intercepts without forwarding (the paper's 13,592 cycles).
 */
export function ptraceLinux(profile: ProfileRef, emulate: boolean, n = 2_000): Measurement {
  const rig = new MicroRig(profile);
  let out!: Measurement;
  let i = 0;
  rig.k.spawn('tracer', (c) => {
    c.op('main', (cpu) => syscall(cpu, NR.fork), 4);
    // Both processes run this code: per-process values live in registers (R12: the child's pid).
    c.op(undefined, (cpu) => {
      const pid = result(cpu);
      if (pid === 0) cpu.jump(c.addr('child'));
      else cpu.setReg(12, pid);
    }, 2);
    // Tracer: wait for a stop (status at RSP-64), resume with PTRACE_SYSCALL (or SYSEMU) until
    // the child has exited.
    c.op('wait', (cpu) => syscall(cpu, NR.wait4, cpu.reg(12), cpu.rsp - 64, 0, 0), 6);
    c.op(undefined, (cpu) => {
      const status = cpu.mmu.read32(cpu.rsp - 64);
      if ((status & 0x7f) !== 0x7f) {
        syscall(cpu, NR.exit_group, 0); // WIFEXITED: the child is done
        return;
      }
      // Under SYSEMU the tracer lets the child's final exit_group through (PTRACE_CONT) once it
      // has seen the SIGSTOP stop and the n getpid stops (R13 counts stops).
      const stops = cpu.reg(13) + 1;
      cpu.setReg(13, stops);
      const req = emulate ? (stops > n ? PTRACE_CONT : PTRACE_SYSEMU) : PTRACE_SYSCALL;
      syscall(cpu, NR.ptrace, req, cpu.reg(12), 0, 0);
    }, 8);
    c.op(undefined, (cpu) => cpu.jump(c.addr('wait')), 1);
    // Child: PTRACE_TRACEME, stop itself, then the getpid loop.
    c.op('child', (cpu) => syscall(cpu, NR.ptrace, PTRACE_TRACEME, 0, 0, 0), 4);
    c.op(undefined, (cpu) => syscall(cpu, NR.getpid), 2);
    c.op(undefined, (cpu) => syscall(cpu, NR.kill, result(cpu), SIGSTOP), 3);
    c.op(undefined, (cpu) => rig.begin(cpu), 0);
    c.op('loop', (cpu) => syscall(cpu, NR.getpid), 2);
    c.op(undefined, (cpu) => {
      if (++i < n) cpu.jump(c.addr('loop'));
    }, 3);
    c.op(undefined, (cpu) => (out = rig.end(cpu, n)), 0);
    c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0), 2);
    return 'main';
  });
  rig.run();
  return out;
}

/**
 * Dune: untrusted code in guest ring 3 makes getpid with SYSCALL; the trap goes to libDune's
 * handler in ring 0 (no VM exit), which forwards it with VMCALL (dune_passthrough_syscall).
 */
export function ptraceDune(profile: ProfileRef, n = 2_000, forward = true): Measurement {
  const rig = new MicroRig(profile);
  let out!: Measurement;
  let i = 0;
  duneProcess(rig, 'sandboxed', (c, lib) => {
    lib.registerSyscallHandler((cpu, tf) => {
      cpu.charge(8 * cpu.costs.instruction); // the policy callback: compare the number, return
      if (lib.tfGet(cpu, tf, TF.rax) === NR.exit_group) {
        lib.retFromUser(cpu, 0);
        return 'redirected';
      }
      if (!forward) {
        lib.tfSet(cpu, tf, TF.rax, 0);
        return 'done';
      }
      return 'passthrough';
    });
    c.op('guest', (cpu) => lib.jumpToUser(cpu, c.addr('user'), cpu.rsp - 0x10000, c.addr('back')), 4);
    c.op('back', (cpu) => (out = rig.end(cpu, n)), 0);
    exitOp(c, true);
    // Ring-3 code.
    c.ring(3).op('user', (cpu) => rig.begin(cpu), 0);
    c.op('loop', (cpu) => syscall(cpu, NR.getpid), 2);
    c.op(undefined, (cpu) => {
      if (++i < n) cpu.jump(c.addr('loop'));
    }, 3);
    c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0), 2);
  });
  rig.run();
  return out;
}

// ---- trap, appel1, appel2 -----------------------------------------------------------------------

interface AppelResult {
  trap: Measurement;
  appel1: Measurement;
  appel2: Measurement;
}

/**
 * bench_linux.c: SIGSEGV handlers that mprotect (appel1: unprotect the faulting page, protect the
 * page NRPGS further; appel2: unprotect only, after one mprotect of all NRPGS pages). "trap" is
 * the time from the faulting access to the handler's first instruction ("User fault took").
 */
export function appelLinux(profile: ProfileRef, passes = 20): AppelResult {
  const rig = new MicroRig(profile);
  const k = rig.k;
  const res: Partial<AppelResult> = {};
  let mem = 0;
  let i = 0;
  let pass = 0;
  let trapTsc = 0;
  let trapSum = 0;
  let addr = 0;
  let phase: 1 | 2 = 1;
  let passStart = 0;
  let sum = 0;
  let snapRig: MicroRig['begin'] | undefined;
  void snapRig;
  k.spawn('appel', (c) => {
    // mmap 2*NRPGS pages, prime them, install the SIGSEGV handler.
    c.op('main', (cpu) => syscall(cpu, NR.mmap, 0, 2 * NRPGS * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 6);
    c.op(undefined, (cpu) => {
      mem = result(cpu);
      for (let p = 0; p < 2 * NRPGS; p++) cpu.mmu.write8(mem + p * PAGE_SIZE, p & 0xff);
      // struct sigaction on the stack: handler, SA_SIGINFO|SA_RESTORER, restorer, empty mask.
      const sa = cpu.rsp - 256;
      cpu.mmu.write64Number(sa, c.addr('handler'));
      cpu.mmu.write64Number(sa + 8, SA_SIGINFO | SA_RESTORER);
      cpu.mmu.write64Number(sa + 16, c.addr('restorer'));
      cpu.mmu.write64Number(sa + 24, 0);
      syscall(cpu, NR.rt_sigaction, SIGSEGV, sa, 0, 8);
    }, 10);
    // A pass: protect (appel1: NRPGS pages; appel2: all 2*NRPGS then PROTN inside the timing).
    c.op('pass', (cpu) => {
      if (phase === 1) syscall(cpu, NR.mprotect, mem, NRPGS * PAGE_SIZE, PROT_READ);
      else syscall(cpu, NR.mprotect, mem, 2 * NRPGS * PAGE_SIZE, PROT_READ | PROT_WRITE);
    }, 4);
    c.op(undefined, (cpu) => {
      if (phase === 2) for (let p = 0; p < 2 * NRPGS; p++) cpu.mmu.write8(mem + p * PAGE_SIZE, p & 0xff); // prime_memory
      i = 0;
      passStart = cpu.cycles;
      if (pass === 1) rig.begin(cpu); // pass 0 warms up (first touches, first protections)
      if (phase === 2) cpu.jump(c.addr('protn'));
    }, 2);
    c.op('access', (cpu) => {
      trapTsc = cpu.cycles;
    }, 1);
    c.op(undefined, (cpu) => {
      cpu.mmu.write8(mem + i * PAGE_SIZE, i & 0xff); // mem[i * PGSIZE] = i (faults)
      if (++i < NRPGS) cpu.jump(c.addr('access'));
    }, 4);
    c.op('pass_end', (cpu) => {
      if (pass > 0) sum += cpu.cycles - passStart;
      if (++pass <= passes) {
        cpu.jump(c.addr('pass'));
        return;
      }
      const m = rig.end(cpu, passes);
      if (phase === 1) {
        res.appel1 = { cycles: sum / passes, counts: m.counts };
        res.trap = { cycles: trapSum / (passes * NRPGS), counts: {} };
        phase = 2;
        pass = 0;
        sum = 0;
        cpu.jump(c.addr('pass'));
        return;
      }
      res.appel2 = { cycles: sum / passes, counts: m.counts };
      syscall(cpu, NR.exit_group, 0);
    }, 3);
    // appel2: PROTN inside the timed region, then the accesses.
    c.op('protn', (cpu) => syscall(cpu, NR.mprotect, mem, NRPGS * PAGE_SIZE, PROT_READ), 4);
    c.op(undefined, (cpu) => {
      cpu.mmu.write8(mem + i * PAGE_SIZE, i & 0xff);
      if (++i < NRPGS) cpu.jump(c.addr('protn') + 7);
      else cpu.jump(c.addr('pass_end'));
    }, 4);
    // The handler (ring 3): rdtsc, si_addr, mprotect(addr, RW) [, mprotect(addr + NRPGS pages, R)].
    c.op('handler', (cpu) => {
      if (phase === 1 && pass > 0) trapSum += cpu.cycles - trapTsc;
      const si = cpu.reg(RSI);
      addr = cpu.mmu.read64Number(si + SI_ADDR);
      addr -= addr % PAGE_SIZE;
      syscall(cpu, NR.mprotect, addr, PAGE_SIZE, PROT_READ | PROT_WRITE);
    }, 8);
    c.op(undefined, (cpu) => {
      if (phase === 1) syscall(cpu, NR.mprotect, addr + NRPGS * PAGE_SIZE, PAGE_SIZE, PROT_READ);
    }, 3);
    c.op(undefined, (cpu) => cpu.ret(), 1);
    c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn), 2);
    return 'main';
  });
  rig.run();
  void RDI;
  void RAX;
  return res as AppelResult;
}

/**
 * bench_dune.c: the page-fault handler runs in guest ring 0 on a hardware #PF and edits PTEs
 * directly (appel1: also protects the page NRPGS further, INVLPG only if its A bit was set).
 */
export function appelDune(profile: ProfileRef, passes = 20): AppelResult {
  const rig = new MicroRig(profile);
  const res: Partial<AppelResult> = {};
  let i = 0;
  let pass = 0;
  let trapTsc = 0;
  let trapSum = 0;
  let phase: 1 | 2 = 1;
  let passStart = 0;
  let sum = 0;
  duneProcess(rig, 'appel', (c, lib) => {
    const handler1 = (cpu: Cpu, addr: number): void => {
      if (phase === 1 && pass > 0) trapSum += cpu.cycles - trapTsc;
      const page = addr - (addr % PAGE_SIZE);
      let pte = lib.vmLookup(lib.pgroot, page, false);
      cpu.mmu.write64(pte, (cpu.mmu.read64(pte) | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D) >>> 0, cpu.mmu.hi);
      if (phase === 1) {
        pte = lib.vmLookup(lib.pgroot, page + NRPGS * PAGE_SIZE, false);
        const lo = cpu.mmu.read64(pte);
        const accessed = (lo & PTE_A) !== 0;
        cpu.mmu.write64(pte, (lo & 0xffff_f000) >>> 0, cpu.mmu.hi & 0x000f_ffff); // *pte = PTE_ADDR(*pte)
        if (accessed) lib.flushTlbOne(cpu, page + NRPGS * PAGE_SIZE);
      }
      // The C handlers' other instructions, counted from bench_dune.c and libdune/vm.c: each
      // dune_vm_lookup is ~36 (nine per level: index, load, present test, address mask), the
      // rest of benchmark1_handler ~20 (rdtscllp, the PTE updates, the A test), of
      // benchmark2_handler ~14.
      cpu.charge((phase === 1 ? 2 * 36 + 20 : 36 + 14) * cpu.costs.instruction);
    };
    lib.registerPgfltHandler((cpu, addr) => handler1(cpu, addr));
    c.op('guest', (cpu) => {
      lib.vmMapPages(lib.pgroot, MAP_ADDR, 2 * NRPGS * PAGE_SIZE, PERM_R | PERM_W);
      for (let p = 0; p < 2 * NRPGS; p++) cpu.mmu.write8(MAP_ADDR + p * PAGE_SIZE, p & 0xff);
    }, 10);
    c.op('pass', (cpu) => {
      if (phase === 1) lib.vmMprotect(cpu, lib.pgroot, MAP_ADDR, NRPGS * PAGE_SIZE, PERM_R);
      else {
        lib.vmMprotect(cpu, lib.pgroot, MAP_ADDR, 2 * NRPGS * PAGE_SIZE, PERM_R | PERM_W);
        for (let p = 0; p < 2 * NRPGS; p++) cpu.mmu.write8(MAP_ADDR + p * PAGE_SIZE, p & 0xff);
      }
      i = 0;
      if (pass === 1) rig.begin(cpu); // pass 0 warms up
      passStart = cpu.cycles;
      if (phase === 2) {
        lib.vmMprotect(cpu, lib.pgroot, MAP_ADDR, NRPGS * PAGE_SIZE, PERM_R); // PROTN, timed
        cpu.jump(c.addr('access'));
      }
    }, 10);
    c.op('access', (cpu) => {
      trapTsc = cpu.cycles;
    }, 1);
    c.op(undefined, (cpu) => {
      cpu.mmu.write8(MAP_ADDR + i * PAGE_SIZE, i & 0xff);
      if (++i < NRPGS) cpu.jump(c.addr('access'));
    }, 4);
    c.op(undefined, (cpu) => {
      if (pass > 0) sum += cpu.cycles - passStart;
      if (++pass <= passes) {
        cpu.jump(c.addr('pass'));
        return;
      }
      const m = rig.end(cpu, passes);
      if (phase === 1) {
        res.appel1 = { cycles: sum / passes, counts: m.counts };
        res.trap = { cycles: trapSum / (passes * NRPGS), counts: {} };
        phase = 2;
        pass = 0;
        sum = 0;
        cpu.jump(c.addr('pass'));
        return;
      }
      res.appel2 = { cycles: sum / passes, counts: m.counts };
    }, 3);
    exitOp(c, true);
  });
  rig.run();
  return res as AppelResult;
}
