import {
  CANONICAL_LIMIT, GD_KD, GD_KT, GD_TSS, GD_UD, GD_UT, PAGE_SIZE, PTE_A, PTE_ADDR_HI, PTE_ADDR_LO, PTE_D, PTE_NX_HI,
  PTE_P, PTE_PS, PTE_U, PTE_W, RFLAGS_IF, RFLAGS_IOPL, Vector, vectorHasErrorCode, CR3_NOFLUSH_HI,
} from '../vtx/arch.js';
import { CodeBuilder } from '../vtx/code-builder.js';
import type { NativeEntry } from '../vtx/native-code.js';
import { Cpu, RAX, RCX, RDI, RDX, RSI, RSP, R8, R9, R10, R11 } from '../vtx/cpu.js';
import { GDT_SIZE, TSS_SIZE, writeGdt, writeIdtGate, writeTss } from '../vtx/descriptors.js';
import { Kernel } from '../linux/kernel.js';
import {
  MAP_ANONYMOUS, MAP_PRIVATE, NR, PROT_EXEC, PROT_READ, PROT_WRITE, DUNE_ENTER, DUNE_GET_LAYOUT, DUNE_GET_SYSCALL,
  SIGCHLD, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, SIG_IGN,
} from '../linux/linux-abi.js';
import { Process, Task, TaskState } from '../linux/task.js';
import { Vma } from '../linux/vma.js';
import { syscall, loadSyscallArgs } from '../linux/user-abi.js';
import { DUNE_CFG, DUNE_CONFIG_SIZE, DuneRet, PERM_BIG, PERM_COW, PERM_R, PERM_U, PERM_UC, PERM_W, PERM_X } from './dune-abi.js';
import { DuneLayout } from './dune-layout.js';
import { DuneThread } from './dune-thread.js';

const TWO_32 = 0x1_0000_0000;
/** A 2 MiB page (PERM_BIG). */
const BIG = 0x20_0000;

/** libdune's page pool base. HEAD puts it at 8 GiB; with the paper's 4 GB identity window it must lie below 4 GiB. */
export const PAGEBASE = 0xc000_0000;
/** Where libDune's own code lives (supervisor-only in the guest page table). */
export const LIBDUNE_TEXT = 0xbf00_0000;

/** struct dune_tf offsets (packed, 168 bytes). */
export const TF = {
  rdi: 0, rsi: 8, rdx: 16, rcx: 24, r8: 32, r9: 40, r10: 48, r11: 56, rbx: 64, rbp: 72, r12: 80,
  r13: 88, r14: 96, r15: 104, rax: 112, err: 120, rip: 128, cs: 136, rflags: 144, rsp: 152, ss: 160,
} as const;
export const TF_SIZE = 168;

/** Offsets in the per-CPU area libDune reaches through GS (dune.S). */
const PERCPU = { self: 0, tmp: 8, kfsBase: 16, ufsBase: 24, inUsermode: 32, tss: 40, trapStack: 44 } as const;

/**
 * The IOPL guest ring 3 runs with, and the mark by which ring-0 entry code knows a SYSCALL came
 * from ring 3. Nothing ring 3 can write may decide that: it can load GS (MOV to GS clears the
 * base on Intel), map page 0, or set registers at will, but it cannot change IOPL — POPF and IRET
 * at CPL 3 leave the field as it is (SDM Vol. 2B POPF, Vol. 2A IRET) — and SYSCALL saves RFLAGS
 * in R11 before it masks anything. Ring 0 runs with IOPL 0, ring 3 with IOPL 1 (so CPL 3 > IOPL
 * still makes IN/OUT/CLI/STI fault), and the trampoline tests R11, as gVisor's ring0 entry does.
 * Upstream libDune reads %gs:IN_USERMODE instead, which ring 3 can redirect.
 */
const RFLAGS_G3 = 1 << 12;

/** Instruction counts of dune.S paths, counted from the assembly (for the cost model). */
export const DUNE_S = {
  /** __dune_intr stub + __dune_intr_with_num + SAVE_REGS + call + dune_trap_handler dispatch. */
  trapEntry: 32,
  /** RESTORE_REGS + addq + the IRETQ itself is charged by the CPU. */
  trapExit: 10,
  /** __dune_syscall G3 path up to the call of dune_syscall_handler (incl. SET_G0_FS_BASE, no WRMSR). */
  syscallEntryUser: 27,
  /** dune_syscall_handler's dispatch to the registered callback. */
  syscallDispatch: 6,
  /** after the handler: SET_G3_FS_BASE, RESTORE_REGS, the stack switch (SYSRETQ charged by the CPU). */
  syscallExitUser: 16,
  /** dune_passthrough_syscall: load six arguments and the number from the trap frame, VMCALL, store RAX. */
  passthrough: 10,
  /** __dune_syscall G0 path: testq, jnz, pushq, popfq (VMCALL and the jump are separate). */
  syscallG0: 4,
};

/** Pages of a thread's entry stack, where libDune's Linux-mode side runs (see DuneThread). */
const ENTRY_STACK_PAGES = 8;
/** Pool pages of one thread's state: GDT, TSS, per-CPU area, 4 of trap stack, config, entry stack. */
const THREAD_POOL_PAGES = 8 + ENTRY_STACK_PAGES;

export type PgfltHandler = (cpu: Cpu, addr: number, fec: number, tf: number) => void;
export type IntrHandler = (cpu: Cpu, tf: number) => void;
/**
 * Returns 'passthrough' to forward the call (tf.rax set by the kernel), 'done' when the handler
 * set tf.rax itself, or 'redirected' when it transferred control (retFromUser).
 */
export type SyscallHandler = (cpu: Cpu, tf: number) => 'passthrough' | 'done' | 'redirected';

const GPR_TF: Array<[number, number]> = [
  [RDI, TF.rdi], [RSI, TF.rsi], [RDX, TF.rdx], [RCX, TF.rcx], [R8, TF.r8], [R9, TF.r9], [R10, TF.r10], [R11, TF.r11],
  [3, TF.rbx], [5, TF.rbp], [12, TF.r12], [13, TF.r13], [14, TF.r14], [15, TF.r15], [RAX, TF.rax],
];

/**
 * libDune (guest ring 0), named after libdune/dune.h: the page-table manager working on guest
 * page tables in guest memory (vmLookup, vmMapPages, vmMapPhys, vmMprotect, vmUnmap, vmPageWalk,
 * vmClone), a page pool, the IDT with trap frames and registered handlers for page faults,
 * vectors and ring-3 system calls, jumpToUser / retFromUser, passthroughSyscall, the TLB and
 * PCID helpers, and the LSTAR trampoline that turns a ring-0 SYSCALL into a VMCALL.
 *
 * `init` is dune_init: it runs in the process before it enters (building the guest page table
 * and descriptor tables in the page pool); everything else runs as guest code — its memory
 * accesses are guest accesses through the CPU's MMU, EPT-translated, with A/D bits and TLB.
 */
export class LibDune {
  readonly text: CodeBuilder;
  layout!: DuneLayout;
  pgroot = 0;
  /** fd of /dev/dune. */
  fd = -1;
  private poolNext = PAGEBASE;
  private readonly poolFree: number[] = [];
  private readonly poolRefs = new Map<number, number>();
  private readonly poolLimit: number;
  /** Host frames of pool pages, for the host-side writes of dune_init. */
  private readonly hostFrame = new Map<number, number>();
  private initialized = false;
  private idt = 0;
  /** The threads that entered (or will enter) Dune, each with its own per-CPU state. */
  private readonly threads = new Map<Task, DuneThread>();
  /** The guest CPU once entered (natives get it as argument; host-side code before entry has none). */
  private intrHandlers: Array<IntrHandler | undefined> = new Array(256).fill(undefined);
  private pgfltHandler: PgfltHandler | undefined;
  private syscallHandler: SyscallHandler | undefined;
  /** Labels of libDune's code. */
  private readonly vectorEntry: number[] = [];
  private lstar = 0;
  /** Stack of dune_jump_to_user frames (G0 state to resume on dune_ret_from_user). */

  private readonly sv: Float64Array;
  private readonly sLargeLeaves: number;

  constructor(readonly kernel: Kernel, readonly process: Process, opts: { poolPages?: number } = {}, parent?: LibDune) {
    this.poolLimit = parent?.poolLimit ?? PAGEBASE + (opts.poolPages ?? 8192) * PAGE_SIZE;
    this.sv = kernel.machine.stats.v;
    this.sLargeLeaves = kernel.machine.stats.counter('libdune.largeLeaves', 'count', '2 MiB leaves (PS=1 PDEs) written into guest page tables by libDune (PERM_BIG)');
    process.libdune = this;
    if (parent !== undefined) {
      // fork: the child's memory is a copy of the parent's, and libDune's state in it with it.
      this.text = parent.text;
      this.layout = parent.layout;
      this.pgroot = parent.pgroot;
      this.fd = parent.fd;
      this.poolNext = parent.poolNext;
      this.poolFree.push(...parent.poolFree);
      for (const [pa, n] of parent.poolRefs) this.poolRefs.set(pa, n);
      this.initialized = parent.initialized;
      this.idt = parent.idt;
      this.intrHandlers = [...parent.intrHandlers];
      this.pgfltHandler = parent.pgfltHandler;
      this.syscallHandler = parent.syscallHandler;
      this.vectorEntry.push(...parent.vectorEntry);
      this.lstar = parent.lstar;
      this.onFatalExit = parent.onFatalExit;
      this.trampolineNatives = parent.trampolineNatives;
    } else {
      this.text = new CodeBuilder(kernel.machine.natives, LIBDUNE_TEXT, 'libdune');
      this.buildText();
    }
    // The host frames of pool pages are a cache of the process's page table: when the kernel
    // changes those PTEs (fork write-protects every page for copy-on-write, munmap, a COW copy),
    // the entries go, so the next host-side access faults the page in again (a write copies a
    // shared page) instead of reading a stale frame or writing one the child still shares.
    process.mm.notifiers.push((start, end) => {
      for (const page of this.hostFrame.keys()) if (page >= start && page < end) this.hostFrame.delete(page);
    });
  }

  // -----------------------------------------------------------------------------------------
  // Memory access: host-side (before entry) or guest (after).

  private cpuForGuest: Cpu | undefined;

  /**
   * The CPU whose guest code calls libDune now: the page-table manager reads and writes through
   * its MMU. With threads on several CPUs that is the caller's, not the last one to enter (an
   * access through another CPU's MMU would use that CPU's CR3, EPT and TLB).
   */
  runningOn(cpu: Cpu): void {
    this.cpuForGuest = cpu;
  }

  /** High half of the last entry read with readEntry (PTEs use bit 63: not a JS number). */
  entHi = 0;

  /** Reads a 64-bit page-table entry; returns the low half, leaves the high half in entHi. */
  readEntry(va: number): number {
    const c = this.cpuForGuest;
    if (c !== undefined) {
      const lo = c.mmu.read64(va);
      this.entHi = c.mmu.hi;
      return lo;
    }
    const mem = this.kernel.machine.mem;
    const pa = this.hostPa(va);
    this.entHi = mem.read32(pa + 4);
    return mem.read32(pa);
  }

  writeEntry(va: number, lo: number, hi: number): void {
    const c = this.cpuForGuest;
    if (c !== undefined) return c.mmu.write64(va, lo >>> 0, hi >>> 0);
    this.kernel.machine.mem.write64(this.hostPa(va), lo >>> 0, hi >>> 0);
  }

  private read64(va: number): number {
    const c = this.cpuForGuest;
    if (c !== undefined) return c.mmu.read64Number(va);
    const pa = this.hostPa(va);
    return (this.kernel.machine.mem.read32(pa + 4) | 0) * TWO_32 + this.kernel.machine.mem.read32(pa);
  }

  private write64(va: number, v: number): void {
    const c = this.cpuForGuest;
    if (c !== undefined) return c.mmu.write64Number(va, v);
    this.kernel.machine.mem.write64Number(this.hostPa(va), v);
  }

  /** Host-physical address of a pool byte (host side, before entry): faults the page in. */
  private hostPa(va: number): number {
    const page = va - (va % PAGE_SIZE);
    let f = this.hostFrame.get(page);
    if (f === undefined) {
      const r = this.kernel.faultIn(undefined, this.process.mm, page, true, false, false);
      if (r !== 0) throw new Error(`libdune: pool page 0x${page.toString(16)} cannot be faulted in (${r})`);
      f = this.process.mm.frameAt(page)!.frame; // a PTE or a 2 MiB PDE
      this.hostFrame.set(page, f);
    }
    return f + (va % PAGE_SIZE);
  }

  // -----------------------------------------------------------------------------------------
  // Page pool (page.c): pages at PAGEBASE, PA == VA (identity window), refcounted.

  pageAlloc(): number {
    const pa = this.poolFree.pop() ?? this.poolNext;
    if (pa === this.poolNext) {
      if (this.poolNext >= this.poolLimit) throw new Error('libdune: page pool exhausted');
      this.poolNext += PAGE_SIZE;
    }
    this.poolRefs.set(pa, 1);
    for (let o = 0; o < PAGE_SIZE; o += 8) this.write64(pa + o, 0);
    return pa;
  }

  /** Pool pages not handed out yet (free list and the untouched rest). */
  poolPagesLeft(): number {
    return this.poolFree.length + (this.poolLimit - this.poolNext) / PAGE_SIZE;
  }

  /** 512 contiguous pool pages on a 2 MiB boundary (for dune_vm_map_pages with PERM_BIG). */
  private pageAllocBig(): number {
    let start = Math.ceil(this.poolNext / BIG) * BIG;
    if (start + BIG > this.poolLimit) throw new Error('libdune: page pool exhausted');
    for (let pa = this.poolNext; pa < start; pa += PAGE_SIZE) this.poolFree.push(pa);
    this.poolNext = start + BIG;
    for (let pa = start; pa < start + BIG; pa += PAGE_SIZE) {
      this.poolRefs.set(pa, 1);
      for (let o = 0; o < PAGE_SIZE; o += 8) this.write64(pa + o, 0);
    }
    return start;
  }

  pageGet(pa: number): void {
    this.poolRefs.set(pa, (this.poolRefs.get(pa) ?? 0) + 1);
  }

  pagePut(pa: number): void {
    const r = (this.poolRefs.get(pa) ?? 1) - 1;
    if (r <= 0) {
      this.poolRefs.delete(pa);
      this.poolFree.push(pa);
    } else {
      this.poolRefs.set(pa, r);
    }
  }

  isFromPool(pa: number): boolean {
    return pa >= PAGEBASE && pa < this.poolLimit;
  }

  // -----------------------------------------------------------------------------------------
  // Page tables (vm.c).

  /** get_pte_perm: PERM_* to PTE bits (as lo, hi). */
  static ptePerm(perm: number): { lo: number; hi: number } {
    let lo = 0;
    let hi = 0;
    if (perm & PERM_R) lo |= PTE_P;
    if (perm & PERM_W) lo |= PTE_W;
    if (!(perm & PERM_X)) hi |= PTE_NX_HI;
    if (perm & PERM_U) lo |= PTE_U;
    if (perm & PERM_UC) lo |= 0x10;
    if (perm & PERM_COW) lo |= 0x200;
    if (perm & PERM_BIG) lo |= PTE_PS;
    return { lo, hi };
  }

  /**
   * dune_vm_lookup: the address of the PTE for `va` (4-level walk from `root`), creating missing
   * tables from the pool when `create`; -1 when absent. Stops at a 2 MiB or 1 GiB leaf.
   */
  vmLookup(root: number, va: number, create: boolean): number {
    return this.vmLookupLevel(root, va, 1, create);
  }

  /**
   * The entry for `va` at `level` (1 = PTE, 2 = PDE for a 2 MiB leaf), creating missing tables when
   * `create`; stops early at a larger leaf on the way; -1 when absent.
   */
  vmLookupLevel(root: number, va: number, level: number, create: boolean): number {
    let table = root;
    for (let l = 4, shift = 39; ; l--, shift -= 9) {
      const e = table + (Math.floor(va / 2 ** shift) & 511) * 8;
      if (l === level) return e;
      const lo = this.readEntry(e);
      const hi = this.entHi;
      if ((lo & PTE_P) === 0) {
        if (!create) return -1;
        const t = this.pageAlloc();
        this.writeEntry(e, (t % TWO_32) + (PTE_P | PTE_W | PTE_U), Math.floor(t / TWO_32));
        table = t;
        continue;
      }
      if ((lo & PTE_PS) !== 0) return e;
      table = LibDune.frameOf(lo, hi);
    }
  }

  /**
   * Writes a 2 MiB leaf (PS=1 PDE, SDM Vol. 3A §4.5 Table 4-17) for `va` → `pa` with `perm`; a
   * page table that was under the PDE (4 KiB leaves mapped before) is dropped, as the real
   * __dune_vm_page_walk with CREATE_BIG replaces it. The caller flushes the TLB.
   */
  vmMapBig(root: number, va: number, pa: number, perm: number): void {
    if (va % BIG !== 0 || pa % BIG !== 0) throw new Error(`libdune: PERM_BIG mapping of 0x${va.toString(16)} → 0x${pa.toString(16)} is not 2 MiB aligned`);
    const e = this.vmLookupLevel(root, va, 2, true);
    const old = this.readEntry(e);
    if ((old & PTE_P) !== 0 && (old & PTE_PS) === 0) {
      const t = LibDune.frameOf(old, this.entHi);
      if (this.isFromPool(t)) this.pagePut(t);
    }
    this.setPte(e, pa, perm | PERM_BIG);
    this.sv[this.sLargeLeaves]++;
  }

  /**
   * Replaces the 2 MiB leaf over `va` with a pool page table of 512 4 KiB leaves with the same
   * flags and frames (so part of the page can change). False when no 2 MiB leaf is there.
   * The translation is unchanged; the caller flushes the TLB when it changes one.
   */
  vmSplitBig(root: number, va: number): boolean {
    const e = this.vmLookupLevel(root, va, 2, false);
    if (e < 0) return false;
    const lo = this.readEntry(e);
    const hi = this.entHi;
    if ((lo & PTE_P) === 0 || (lo & PTE_PS) === 0) return false;
    const base = LibDune.frameOf(lo, hi);
    const t = this.pageAlloc();
    const flags = lo & 0xfff & ~PTE_PS;
    for (let i = 0; i < 512; i++) {
      const f = base + i * PAGE_SIZE;
      this.writeEntry(t + i * 8, ((f % TWO_32) | flags) >>> 0, (Math.floor(f / TWO_32) | (hi & ~0xfffff)) >>> 0);
    }
    this.writeEntry(e, (t % TWO_32) + (PTE_P | PTE_W | PTE_U), Math.floor(t / TWO_32));
    return true;
  }

  /** Physical address bits 51:12 of an entry given as halves. */
  static frameOf(lo: number, hi: number): number {
    return ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
  }

  /** Writes the PTE for `pa` with PERM bits at entry address `e`. */
  private setPte(e: number, pa: number, perm: number): void {
    const p = LibDune.ptePerm(perm);
    this.writeEntry(e, ((pa % TWO_32) | p.lo) >>> 0, (Math.floor(pa / TWO_32) | p.hi) >>> 0);
  }

  /** dune_vm_map_phys: [va, va+len) → [pa, pa+len) with `perm` (4 KiB pages; 2 MiB with PERM_BIG). */
  vmMapPhys(root: number, va: number, len: number, pa: number, perm: number): void {
    if ((perm & PERM_BIG) !== 0) {
      for (let off = 0; off < len; off += BIG) this.vmMapBig(root, va + off, pa + off, perm);
      return;
    }
    let table = -1;
    let tableBase = NaN;
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const a = va + off;
      const base = a - (a % 0x20_0000);
      if (base !== tableBase) {
        table = this.vmLookup(root, a, true) - (Math.floor(a / 4096) & 511) * 8;
        tableBase = base;
      }
      this.setPte(table + (Math.floor(a / 4096) & 511) * 8, pa + off, perm);
    }
  }

  /** dune_vm_map_pages: a fresh pool page at every page of [va, va+len). */
  vmMapPages(root: number, va: number, len: number, perm: number): number {
    if ((perm & ~PERM_R) !== 0 && (perm & PERM_R) === 0) return -22;
    if ((perm & PERM_BIG) !== 0) {
      // 2 MiB leaves over 512 contiguous pool pages each.
      if (va % BIG !== 0) return -22;
      for (let off = 0; off < len; off += BIG) this.vmMapBig(root, va + off, this.pageAllocBig(), perm);
      return 0;
    }
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const e = this.vmLookup(root, va + off, true);
      this.setPte(e, this.pageAlloc(), perm);
    }
    return 0;
  }

  /** dune_vm_mprotect: rewrite the flags of existing leaves, then flush the whole TLB. */
  vmMprotect(cpu: Cpu, root: number, va: number, len: number, perm: number): number {
    if ((perm & PERM_W) && !(perm & PERM_R)) return -22;
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const e = this.vmLookup(root, va + off, false);
      if (e < 0) continue;
      const lo = this.readEntry(e);
      const hi = this.entHi;
      if (lo === 0 && hi === 0) continue;
      if ((lo & PTE_PS) !== 0) {
        // A 2 MiB leaf keeps its size; the rest of its page needs no other entry.
        this.setPte(e, LibDune.frameOf(lo, hi), perm | PERM_BIG);
        off = Math.max(off, (va + off) - ((va + off) % BIG) + BIG - va - PAGE_SIZE);
        continue;
      }
      this.setPte(e, LibDune.frameOf(lo, hi), perm);
    }
    this.flushTlb(cpu);
    return 0;
  }

  /** dune_vm_unmap: clear leaves, drop pool references, flush the TLB. */
  vmUnmap(cpu: Cpu, root: number, va: number, len: number): void {
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const e = this.vmLookup(root, va + off, false);
      if (e < 0) continue;
      const lo = this.readEntry(e);
      if ((lo & PTE_P) === 0) continue;
      const f = LibDune.frameOf(lo, this.entHi);
      this.writeEntry(e, 0, 0);
      if ((lo & PTE_PS) !== 0) {
        // A 2 MiB leaf goes whole (with its 512 pool pages, if they are the pool's).
        const base = f - (f % BIG);
        if (this.isFromPool(base)) for (let pa = base; pa < base + BIG; pa += PAGE_SIZE) this.pagePut(pa);
        off = Math.max(off, (va + off) - ((va + off) % BIG) + BIG - va - PAGE_SIZE);
        continue;
      }
      if (this.isFromPool(f)) this.pagePut(f);
    }
    this.flushTlb(cpu);
  }

  /** dune_vm_page_walk: calls `cb(ptep, va)` for every present leaf in [start, end). */
  vmPageWalk(root: number, start: number, end: number, cb: (ptep: number, va: number) => boolean | void): void {
    const walk = (table: number, level: number, base: number): boolean => {
      const span = 2 ** (12 + 9 * (level - 1));
      for (let i = 0; i < 512; i++) {
        const va = base + i * span;
        if (va + span <= start || va >= end) continue;
        const e = table + i * 8;
        const lo = this.readEntry(e);
        const hi = this.entHi;
        if ((lo & PTE_P) === 0) continue;
        if (level === 1 || (lo & PTE_PS) !== 0) {
          if (cb(e, va) === true) return true;
        } else if (walk(LibDune.frameOf(lo, hi), level - 1, va)) {
          return true;
        }
      }
      return false;
    };
    walk(root, 4, 0);
  }

  /** dune_vm_clone: a new root with every leaf copied verbatim (pool pages referenced again). */
  vmClone(root: number): number {
    const newRoot = this.pageAlloc();
    this.vmPageWalk(root, 0, 2 ** 47, (ptep, va) => {
      const lo = this.readEntry(ptep);
      const hi = this.entHi;
      this.writeEntry(this.vmLookup(newRoot, va, true), lo, hi);
      const f = LibDune.frameOf(lo, hi);
      if (this.isFromPool(f)) this.pageGet(f);
    });
    return newRoot;
  }

  /** dune_va_to_pa. */
  vaToPa(va: number): number {
    return this.layout.hvaToGpa(va);
  }

  // -----------------------------------------------------------------------------------------
  // TLB and CR3 (guest ring 0 code: real INVLPG and MOV CR3).

  flushTlbOne(cpu: Cpu, va: number): void {
    cpu.invlpg(va);
  }

  flushTlb(cpu: Cpu): void {
    cpu.loadCr3(cpu.cr3);
  }

  /** load_cr3 with a PCID in bits 11:0 and CR3_NOFLUSH (bit 63) as `noFlush`. */
  loadCr3(cpu: Cpu, root: number, pcid = 0, noFlush = false): void {
    cpu.writeCr(3, (root + pcid) >>> 0, (Math.floor(root / TWO_32) | (noFlush ? CR3_NOFLUSH_HI : 0)) >>> 0);
  }

  // -----------------------------------------------------------------------------------------
  // Handlers (dune_register_*).

  registerPgfltHandler(h: PgfltHandler): void {
    this.pgfltHandler = h;
  }

  registerIntrHandler(vector: number, h: IntrHandler): void {
    this.intrHandlers[vector] = h;
  }

  registerSyscallHandler(h: SyscallHandler): void {
    this.syscallHandler = h;
  }

  /**
   * From a vector handler: the thread sends itself `signo` with the given si_code and si_addr
   * (rt_tgsigqueueinfo as a VMCALL, the siginfo on the trap stack below the frame), then leaves
   * the trap as any handler does. The pending signal makes the module leave Dune with
   * DUNE_RET_SIGNAL before the guest resumes: Linux runs the handler in host mode, and when it
   * returns libDune re-enters and the IRETQ goes back to the faulting instruction.
   */
  raiseFromTrap(cpu: Cpu, tf: number, signo: number, code: number, addr: number): void {
    const t = this.kernel.current[cpu.index]!;
    const info = tf - 256;
    for (let o = 0; o < 128; o += 8) cpu.mmu.write64(info + o, 0, 0);
    cpu.mmu.write32(info, signo);
    cpu.mmu.write32(info + 8, code >>> 0);
    cpu.mmu.write64Number(info + 16, addr);
    loadSyscallArgs(cpu, NR.rt_tgsigqueueinfo, t.process.pid, t.tid, signo, info);
    cpu.jump(this.text.addr('__dune_raise'));
  }

  /** A trap-frame register (tf is a guest address). */
  tfGet(cpu: Cpu, tf: number, off: number): number {
    return cpu.mmu.read64Number(tf + off);
  }

  tfSet(cpu: Cpu, tf: number, off: number, v: number): void {
    cpu.mmu.write64Number(tf + off, v);
  }

  // -----------------------------------------------------------------------------------------
  // dune_init.

  /**
   * dune_init: opens /dev/dune, asks for the layout and the LSTAR address, builds the guest page
   * table in the pool (full: the three windows with U; precise: the process's VMAs without U),
   * the pool itself (no U), libDune's code (no U), the SYSCALL trampoline at the LSTAR address,
   * and a GDT, TSS and IDT per thread. Runs in the process as it starts (host user mode).
   */
  init(cpu: Cpu, mapFull: boolean): void {
    const k = this.kernel;
    const p = this.process;
    const mm = p.mm;
    const task = k.current[cpu.index];
    if (task === undefined || task.process !== p) throw new Error('libdune: dune_init must run in the process');
    // The page pool and libDune's text are ordinary process memory.
    mm.vmas.insert(new Vma(PAGEBASE, this.poolLimit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[dune pool]'));
    k.mapCode(p, this.text, '[libdune]');
    const dev = k.devices.get('/dev/dune');
    if (dev === undefined) throw new Error('libdune: /dev/dune is missing (is the Dune module loaded?)');
    this.fd = p.allocFd(dev(task));
    const file = p.files.get(this.fd)!;
    // DUNE_GET_LAYOUT into a scratch page of the pool, DUNE_GET_SYSCALL for LSTAR.
    const buf = PAGEBASE;
    this.hostPa(buf);
    if (file.ioctl!(task, DUNE_GET_LAYOUT, buf) !== 0) throw new Error('libdune: DUNE_GET_LAYOUT failed');
    const rd = (o: number): number => this.read64(buf + o);
    const physLimit = rd(0);
    this.layout = new DuneLayout(physLimit / 3, rd(16) + physLimit / 3, k.machine.physBits);
    this.lstar = file.ioctl!(task, DUNE_GET_SYSCALL, 0);
    this.poolNext = PAGEBASE;
    this.pgroot = this.pageAlloc();
    const all = PERM_R | PERM_W | PERM_X | PERM_U;
    const L = this.layout;
    if (mapFull) {
      // The identity window minus the pool and libDune's text, which get their own mappings.
      this.vmMapPhys(this.pgroot, 0, LIBDUNE_TEXT, 0, all);
      this.vmMapPhys(this.pgroot, L.baseMap, L.window, L.window, all);
      this.vmMapPhys(this.pgroot, L.baseStack, L.window, 2 * L.window, all);
    } else {
      for (const v of mm.vmas.list) {
        if (v.start >= LIBDUNE_TEXT && v.end <= this.poolLimit) continue;
        const perm = (v.readable ? PERM_R : 0) | (v.writable ? PERM_W : 0) | (v.executable ? PERM_X : 0);
        for (let va = v.start; va < v.end; va += PAGE_SIZE) {
          const gpa = L.hvaToGpa(va);
          if (gpa >= 0) this.vmMapPhys(this.pgroot, va, PAGE_SIZE, gpa, perm | PERM_R);
        }
      }
    }
    this.vmMapPhys(this.pgroot, LIBDUNE_TEXT, this.text.build().length, LIBDUNE_TEXT, PERM_R | PERM_X);
    this.vmMapPhys(this.pgroot, PAGEBASE, this.poolLimit - PAGEBASE, PAGEBASE, PERM_R | PERM_W);
    // The SYSCALL trampoline: guest LSTAR (a kernel address) → a pool page holding __dune_syscall.
    const tramp = this.pageAlloc();
    const off = this.lstar % PAGE_SIZE;
    this.trampolineNatives ??= [
      this.kernel.machine.natives.register('libdune:__dune_syscall', (c) => this.of(c).syscallTrampoline(c), DUNE_S.syscallG0),
      this.kernel.machine.natives.register('libdune:__dune_syscall+vmcall', (c) => this.of(c).afterVmcall(c), 1),
    ];
    const [entryA, entryB] = this.trampolineNatives as [NativeEntry, NativeEntry];
    const mem = k.machine.mem;
    k.machine.natives.install(mem, this.hostPa(tramp) + off, entryA);
    k.machine.natives.install(mem, this.hostPa(tramp) + off + 7, entryB);
    this.vmMapPhys(this.pgroot, this.lstar - off, PAGE_SIZE, tramp, PERM_R | PERM_X);
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
    const gdt = this.pageAlloc();
    this.idt = this.pageAlloc();
    for (let v = 0; v < 256; v++) {
      writeIdtGate(mem, this.hostPa(this.idt), v, this.vectorEntry[v]!, { type: 0xe, dpl: v === Vector.Breakpoint ? 3 : 0, ist: 0 });
    }
    this.threads.set(task, this.newThread(gdt));
    this.initialized = true;
  }

  /**
   * A thread's GDT, TSS, per-CPU area, trap stack, dune_config and entry stack, from the pool
   * (dune_enter's create_percpu). Host-side writes: the thread is in Linux mode.
   */
  private newThread(gdt = this.pageAlloc()): DuneThread {
    const mem = this.kernel.machine.mem;
    const tss = this.pageAlloc();
    const percpu = this.pageAlloc();
    const stack = this.pageAlloc();
    for (let i = 0; i < 3; i++) this.pageAlloc();
    const trapStackTop = stack + 4 * PAGE_SIZE;
    writeGdt(mem, this.hostPa(gdt), tss);
    writeTss(mem, this.hostPa(tss), [trapStackTop], [trapStackTop]);
    this.write64(percpu + PERCPU.self, percpu);
    this.write64(percpu + PERCPU.inUsermode, 0);
    this.write64(percpu + PERCPU.trapStack, trapStackTop);
    const conf = this.pageAlloc();
    const entry = this.pageAlloc();
    for (let i = 1; i < ENTRY_STACK_PAGES; i++) this.pageAlloc();
    return new DuneThread(gdt, tss, percpu, trapStackTop, conf, entry + ENTRY_STACK_PAGES * PAGE_SIZE);
  }

  /** The libDune of the process running on `cpu` (natives live at one address in every copy). */
  private of(cpu: Cpu): LibDune {
    const l = this.kernel.current[cpu.index]?.process.libdune;
    return l instanceof LibDune ? l : this;
  }

  /** The calling thread's libDune state. */
  private threadOf(cpu: Cpu): DuneThread {
    const t = this.kernel.current[cpu.index];
    const th = t === undefined ? undefined : this.threads.get(t);
    if (th === undefined) throw new Error('libdune: the thread on this CPU has no libDune state (dune_enter before dune_init?)');
    return th;
  }

  // -----------------------------------------------------------------------------------------
  // dune_enter as code: the ioctl, on_dune_exit, and the first guest instruction (__dune_ret).

  /**
   * Emits dune_enter into a program: `DUNE_ENTER` (ioctl), then on_dune_exit for when the ioctl
   * returns in Linux mode; inside Dune, execution goes on at `cont`.
   */
  emitEnter(code: CodeBuilder, label: string, cont: string): void {
    const k = this.kernel;
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
  private enterFrom(cpu: Cpu, th: DuneThread, resumeAt: number): void {
    const mem = this.kernel.machine.mem;
    const w = (o: number, v: number): void => mem.write64Number(this.hostPa(th.confVa + o), v);
    for (const [reg, name] of [[RAX, 'rax'], [3, 'rbx'], [RCX, 'rcx'], [RDX, 'rdx'], [RSI, 'rsi'], [RDI, 'rdi'], [5, 'rbp'], [R8, 'r8'], [R9, 'r9'], [R10, 'r10'], [R11, 'r11'], [12, 'r12'], [13, 'r13'], [14, 'r14'], [15, 'r15']] as const) {
      w(DUNE_CFG[name], cpu.reg(reg));
    }
    w(DUNE_CFG.rsp, cpu.rsp);
    w(DUNE_CFG.rip, this.text.addr('__dune_ret'));
    w(DUNE_CFG.rflags, 0x2);
    w(DUNE_CFG.cr3, this.pgroot);
    w(DUNE_CFG.vcpu, 0);
    th.resumeAt = resumeAt;
    cpu.setReg(RSP, th.entryStackTop);
    cpu.jump(this.text.addr('__dune_go_dune'));
  }

  /**
   * What a forked child or a new thread runs first, in Linux mode (the module starts it there at
   * the return address the trampoline gave: see syscallTrampoline). libDune's fork wrapper:
   * dune_enter on a vCPU of its own, then on inside Dune where the clone returns, with RAX = 0.
   * A fork child keeps the per-CPU state of the thread that forked (its copy, in its copy of the
   * memory); a new thread gets its own; a child sharing the memory without being a thread (vfork,
   * posix_spawn) stays in Linux mode — its per-CPU state would be its parent's, and it only
   * execs or exits.
   */
  private forkChild(cpu: Cpu): void {
    const k = this.kernel;
    const task = k.current[cpu.index]!;
    const from = task.forkedFrom;
    task.forkedFrom = undefined;
    const ret = cpu.reg(R11);
    // What SYSCALL's return leaves: RCX = the return address, R11 = RFLAGS.
    cpu.setReg(RCX, ret);
    cpu.setReg(R11, cpu.rflags);
    const p = task.process;
    const parentThread = from === undefined ? undefined : this.threads.get(from);
    if (parentThread === undefined || (p !== this.process && p.mm === this.process.mm)) {
      cpu.jump(ret);
      return;
    }
    let lib: LibDune = this;
    let th: DuneThread;
    if (p === this.process) {
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
        writeGdt(k.machine.mem, this.hostPa(th.gdt), th.tss);
        this.hostSide(() => this.write64(th.percpu + PERCPU.inUsermode, 0));
      } else if (this.poolPagesLeft() >= THREAD_POOL_PAGES) {
        th = this.hostSide(() => this.newThread());
      } else {
        cpu.jump(ret);
        return;
      }
    } else {
      lib = new LibDune(k, p, {}, this);
      th = new DuneThread(parentThread.gdt, parentThread.tss, parentThread.percpu, parentThread.trapStackTop, parentThread.confVa, parentThread.entryStackTop);
      // setup_gdt on every dune_enter: the copy's TSS descriptor is busy from the parent's LTR,
      // and LTR of a busy TSS is #GP (SDM Vol. 2A LTR).
      writeGdt(k.machine.mem, lib.hostPa(th.gdt), th.tss);
    }
    lib.threads.set(task, th);
    lib.enterFrom(cpu, th, ret);
  }

  /** Runs `f` with host-side memory access (the calling thread is in Linux mode). */
  private hostSide<T>(f: () => T): T {
    const c = this.cpuForGuest;
    this.cpuForGuest = undefined;
    try {
      return f();
    } finally {
      this.cpuForGuest = c;
    }
  }

  /**
   * What a process running an unmodified Linux program (exec --mode dune) does where libdune's
   * on_dune_exit would end it: returns the signal and siginfo Linux would have raised for the
   * same fault, or undefined to end as libdune does.
   */
  onFatalExit: ((ret: DuneRet, status: number, process: Process) => { signo: number; code: number; addr: number } | undefined) | undefined;
  private trampolineNatives: NativeEntry[] | undefined;

  /** on_dune_exit: what libdune does when DUNE_ENTER returns in Linux mode. */
  private onDuneExit(cpu: Cpu): void {
    const k = this.kernel;
    const th = this.threadOf(cpu);
    const conf = th.confVa;
    // Read through the process's page tables now, not the cached frame of hostPa: after a fork
    // the module's write of the config broke copy-on-write, and the cached frame is the child's.
    const r = (o: number): number => {
      const b = k.accessProcessVm(this.process, conf + o, 8)!;
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
        cpu.jump(this.text.addr('__dune_go_dune'));
        return;
      default: {
        const sig = this.onFatalExit?.(ret, status, this.process);
        if (sig !== undefined) {
          // rt_tgsigqueueinfo to itself with the fault's siginfo; once a handler returns,
          // __dune_go_dune re-enters and the guest meets its fault again, as on Linux.
          const info = new Uint8Array(128);
          const dv = new DataView(info.buffer);
          dv.setInt32(0, sig.signo, true);
          dv.setInt32(8, sig.code, true);
          dv.setUint32(16, sig.addr >>> 0, true);
          dv.setUint32(20, Math.floor(sig.addr / TWO_32) >>> 0, true);
          k.accessProcessVm(this.process, conf + DUNE_CONFIG_SIZE, info.length, info);
          const t = k.current[cpu.index]!;
          syscall(cpu, NR.rt_tgsigqueueinfo, this.process.pid, t.tid, sig.signo, conf + DUNE_CONFIG_SIZE);
          return;
        }
        const msg = new TextEncoder().encode(`dune: exit due to ${DuneRet[ret] ?? ret} (status 0x${status.toString(16)})\n`);
        k.console(2, msg);
        this.lastExit = { ret, status };
        syscall(cpu, NR.exit_group, 1); // exit(EXIT_FAILURE), as libdune's on_dune_exit ends
      }
    }
  }

  /** The last fatal DUNE_RET outcome (for reports and tests). */
  lastExit: { ret: number; status: number } | undefined;

  // -----------------------------------------------------------------------------------------
  // libDune's code: natives in its text (supervisor in the guest page table).

  private buildText(): void {
    const c = this.text;
    // __dune_ret: the first guest instruction — load GDT, IDT, TR, GS base, return to the caller.
    c.op('__dune_ret', (cpu) => {
      const lib = this.of(cpu);
      const th = lib.threadOf(cpu);
      lib.cpuForGuest = cpu;
      cpu.lgdt(th.gdt, GDT_SIZE - 1);
      cpu.lidt(lib.idt, 256 * 16 - 1);
      cpu.ltr(GD_TSS);
      cpu.wrmsr(0xc000_0101, th.percpu >>> 0, Math.floor(th.percpu / TWO_32) >>> 0); // GS base
      cpu.rflags |= RFLAGS_IF; // sti
      cpu.setReg(RAX, 0);
      cpu.jump(th.resumeAt);
    }, 12);
    // The IDT entry points (__dune_intr + 16 * vector).
    for (let v = 0; v < 256; v++) {
      // The stub's instructions are charged inside trapEntry, before the handler runs, so a
      // handler that reads the clock sees them (as rdtsc in a C handler would).
      c.op(`intr${v}`, (cpu) => this.of(cpu).trapEntry(cpu, v), 0);
    }
    // A handler's VMCALL that raises a signal on the thread (see raiseFromTrap), then the way out.
    c.op('__dune_raise', (cpu) => cpu.vmcall(), 1);
    c.op('__dune_intr_done', (cpu) => this.of(cpu).trapExit(cpu), DUNE_S.trapExit);
    // The G3 system-call path of __dune_syscall.
    c.op('syscall_g3', (cpu) => {
      cpu.charge((DUNE_S.syscallEntryUser + DUNE_S.syscallDispatch) * cpu.costs.instruction);
      this.of(cpu).syscallFromUser(cpu);
    }, 0);
    c.op('syscall_g3_passthrough_done', (cpu) => this.passthroughDone(cpu), 2);
    c.op('syscall_g3_exit', (cpu) => this.syscallExitUser(cpu), DUNE_S.syscallExitUser);
    c.op('dune_ret_from_user_finish', (cpu) => this.retFromUserFinish(cpu), 3);
    // __dune_go_dune (Linux mode, on the entry stack): DUNE_ENTER with the config as it is; when
    // the ioctl returns, __dune_retry runs on_dune_exit — which re-enters after a signal, or,
    // after raising one itself, falls through to enter again once the signal is dealt with.
    c.ring(3).op('__dune_go_dune', (cpu) => {
      const lib = this.of(cpu);
      syscall(cpu, NR.ioctl, lib.fd, DUNE_ENTER, lib.threadOf(cpu).confVa);
    }, 4);
    c.op('__dune_retry', (cpu) => this.of(cpu).onDuneExit(cpu), 10);
    c.op(undefined, (cpu) => cpu.jump(this.text.addr('__dune_go_dune')), 1);
    // libDune's fork wrapper: where a child of fork or clone from inside Dune starts.
    c.op('__dune_fork_child', (cpu) => this.of(cpu).forkChild(cpu), 20);
    c.build();
    for (let v = 0; v < 256; v++) this.vectorEntry.push(c.addr(`intr${v}`));
  }

  /**
   * __dune_intr: build a dune_tf below the hardware frame (with a placeholder error code for
   * vectors without one), then dune_trap_handler: a registered vector handler, else the page
   * fault handler with CR2, else a fatal dump.
   */
  private trapEntry(cpu: Cpu, vector: number): void {
    this.cpuForGuest = cpu;
    cpu.charge(DUNE_S.trapEntry * cpu.costs.instruction);
    const sp = cpu.rsp;
    const tf = vectorHasErrorCode(vector) ? sp + 8 - TF.rip : sp - TF.rip;
    // The CS the CPU pushed says where the event came from; from ring 3, SWAPGS to the per-CPU area.
    if ((cpu.mmu.read64(tf + TF.cs) & 3) === 3) cpu.swapgs();
    for (const [reg, off] of GPR_TF) {
      if (off >= TF.rbx && off <= TF.r15) continue; // callee-saved registers are not saved
      cpu.mmu.write64(tf + off, cpu.lo[reg]!, cpu.hi[reg]!);
    }
    if (!vectorHasErrorCode(vector)) cpu.mmu.write64(tf + TF.err, 0, 0);
    cpu.setReg(RSP, tf);
    const h = this.intrHandlers[vector];
    if (h !== undefined) h(cpu, tf);
    else if (vector === Vector.PageFault && this.pgfltHandler !== undefined) {
      this.pgfltHandler(cpu, cpu.cr2, cpu.mmu.read64(tf + TF.err), tf);
    } else {
      const rip = this.tfGet(cpu, tf, TF.rip);
      this.kernel.console(2, new TextEncoder().encode(`dune: unhandled exception ${vector} at rip 0x${rip.toString(16)}, cr2 0x${cpu.cr2.toString(16)}\n`));
      loadSyscallArgs(cpu, NR.exit_group, 1); // dune_die: SYS_exit (60) with a failure status
      cpu.vmcall();
      return;
    }
    // A handler that transferred control itself (dune_ret_from_user) does not return here.
    if (!cpu.branched) cpu.jump(this.text.addr('__dune_intr_done'));
  }

  /** RESTORE_REGS, drop the trap frame, IRETQ. */
  private trapExit(cpu: Cpu): void {
    const tf = cpu.rsp;
    if ((cpu.mmu.read64(tf + TF.cs) & 3) === 3) {
      this.tfSet(cpu, tf, TF.rflags, userRflags(this.tfGet(cpu, tf, TF.rflags)));
      cpu.swapgs();
    }
    for (const [reg, off] of GPR_TF) {
      if (off >= TF.rbx && off <= TF.r15) continue;
      cpu.lo[reg] = cpu.mmu.read64(tf + off);
      cpu.hi[reg] = cpu.mmu.hi;
    }
    cpu.setReg(RSP, tf + TF.rip);
    cpu.iretq();
  }

  /** __dune_syscall: from G0, VMCALL (the kernel); from G3, the trap-frame path. */
  private syscallTrampoline(cpu: Cpu): void {
    if ((cpu.lo[R11]! & RFLAGS_IOPL) === RFLAGS_G3) {
      // From ring 3: SWAPGS first, so that every per-CPU value below comes from the per-CPU
      // area (KERNEL_GS_BASE while ring 3 runs), never from a GS base ring 3 set.
      cpu.swapgs();
      cpu.jump(this.text.addr('syscall_g3'));
      return;
    }
    cpu.rflags = (cpu.lo[R11]! | 0x2) >>> 0; // pushq %r11; popfq
    const nr = cpu.reg(RAX);
    // (A restarted call comes through again with the swap already made.)
    if ((nr === NR.fork || nr === NR.vfork || nr === NR.clone) && cpu.reg(RCX) !== this.text.addr('__dune_fork_child')) {
      // libDune's fork wrapper: the child starts in Linux mode at the RCX the module finds (the
      // trampoline is at a kernel address); make that __dune_fork_child, with the real return
      // address in R11 (which SYSCALL clobbers anyway), so that the child enters Dune itself.
      cpu.setReg(R11, cpu.reg(RCX));
      cpu.setReg(RCX, this.text.addr('__dune_fork_child'));
    }
    cpu.vmcall(); // resumes at the next stub: jmp *%rcx
  }

  /** After the trampoline's VMCALL: jmp *%rcx (for a fork-family call, the saved return address). */
  private afterVmcall(cpu: Cpu): void {
    if (cpu.reg(RCX) === this.text.addr('__dune_fork_child')) {
      cpu.setReg(RCX, cpu.reg(R11));
      cpu.setReg(R11, cpu.rflags);
    }
    cpu.jump(cpu.reg(RCX));
  }

  /** G3 entry: switch to the trap stack, push a dune_tf, call dune_syscall_handler. */
  private syscallFromUser(cpu: Cpu): void {
    this.cpuForGuest = cpu;
    const gs = cpu.gsBase;
    const userRsp = cpu.rsp;
    const top = cpu.mmu.read64Number(gs + PERCPU.trapStack);
    const tf = top - TF_SIZE;
    cpu.mmu.write64Number(tf + TF.rip, cpu.reg(RCX));
    cpu.mmu.write64Number(tf + TF.rflags, cpu.lo[R11]!);
    cpu.mmu.write64(tf + TF.rcx, cpu.lo[R10]!, cpu.hi[R10]!); // r10 in the rcx slot (C ABI)
    for (const [reg, off] of [[RDI, TF.rdi], [RSI, TF.rsi], [RDX, TF.rdx], [R8, TF.r8], [R9, TF.r9], [RAX, TF.rax]] as const) {
      cpu.mmu.write64(tf + off, cpu.lo[reg]!, cpu.hi[reg]!);
    }
    cpu.mmu.write64Number(tf + TF.rsp, userRsp);
    cpu.setReg(RSP, tf);
    cpu.mmu.write64(gs + PERCPU.inUsermode, 0, 0); // SET_G0_FS_BASE (FS bases equal: no WRMSR)
    const h = this.syscallHandler;
    if (h === undefined) {
      this.kernel.console(2, new TextEncoder().encode('dune: missing handler for system call - #' + cpu.lo[RAX] + '\n'));
      loadSyscallArgs(cpu, NR.exit_group, 1); // dune_die: SYS_exit (60) with a failure status
      cpu.vmcall();
      return;
    }
    const action = h(cpu, tf);
    if (action === 'passthrough') {
      this.passthroughSyscall(cpu, tf);
      return;
    }
    if (action === 'done') cpu.jump(this.text.addr('syscall_g3_exit'));
  }

  /**
   * dune_passthrough_syscall: the call in the trap frame as a VMCALL (the kernel's syscall
   * table); RAX goes back into the frame at the next instruction. Called from the system-call
   * handler (inside the syscall_g3 native).
   */
  passthroughSyscall(cpu: Cpu, tf: number): void {
    const g = (off: number): number => cpu.mmu.read64Number(tf + off);
    loadSyscallArgs(cpu, g(TF.rax), g(TF.rdi), g(TF.rsi), g(TF.rdx), g(TF.rcx), g(TF.r8), g(TF.r9));
    cpu.charge(DUNE_S.passthrough * cpu.costs.instruction);
    // The VMCALL is this native's last action: the module resumes at the next instruction,
    // syscall_g3_passthrough_done (laid out right after syscall_g3).
    cpu.vmcall();
  }

  private passthroughDone(cpu: Cpu): void {
    cpu.mmu.write64(cpu.rsp + TF.rax, cpu.lo[RAX]!, cpu.hi[RAX]!);
  }

  /** SET_G3_FS_BASE, RESTORE_REGS, back to the user stack, SYSRETQ. */
  private syscallExitUser(cpu: Cpu): void {
    const tf = cpu.rsp;
    cpu.mmu.write64(cpu.gsBase + PERCPU.inUsermode, 1, 0);
    for (const [reg, off] of [[RDI, TF.rdi], [RSI, TF.rsi], [RDX, TF.rdx], [R8, TF.r8], [R9, TF.r9], [RAX, TF.rax]] as const) {
      cpu.lo[reg] = cpu.mmu.read64(tf + off);
      cpu.hi[reg] = cpu.mmu.hi;
    }
    cpu.lo[R10] = cpu.mmu.read64(tf + TF.rcx);
    cpu.hi[R10] = cpu.mmu.hi;
    // SYSRET loads IOPL from R11: ring 3 always goes back with the ring-3 mark, whatever a
    // handler left in the frame.
    cpu.setReg(R11, userRflags(cpu.mmu.read64Number(tf + TF.rflags)));
    const rip = cpu.mmu.read64Number(tf + TF.rip);
    cpu.setReg(RCX, rip);
    cpu.setReg(RSP, cpu.mmu.read64Number(tf + TF.rsp));
    // Intel's SYSRET raises #GP in ring 0 for a non-canonical RCX: take it here, before SWAPGS,
    // so that the fault finds ring 0's GS and not the one ring 3 left (the SYSRET hole Linux
    // closes by returning through IRET instead).
    if (rip >= CANONICAL_LIMIT || rip < -CANONICAL_LIMIT) cpu.gp0();
    cpu.swapgs();
    cpu.sysret();
  }

  /**
   * dune_jump_to_user: enter guest ring 3 at `rip` with stack `rsp`; `cont` is where G0 resumes
   * when a handler calls retFromUser (the return value in RAX).
   */
  jumpToUser(cpu: Cpu, rip: number, rsp: number, cont: number): void {
    const gs = cpu.gsBase;
    // Save the G0 context (its resume point and stack) and mark user mode.
    this.threadOf(cpu).userReturns.push(cont, cpu.rsp);
    cpu.mmu.write64Number(gs + PERCPU.trapStack, cpu.rsp - 256);
    cpu.mmu.write64(gs + PERCPU.inUsermode, 1, 0);
    const top = cpu.rsp - 256 - 5 * 8;
    cpu.mmu.write64Number(top, rip);
    cpu.mmu.write64Number(top + 8, GD_UT);
    cpu.mmu.write64Number(top + 16, userRflags(0x202));
    cpu.mmu.write64Number(top + 24, rsp);
    cpu.mmu.write64Number(top + 32, GD_UD);
    cpu.setReg(RSP, top);
    cpu.charge(25 * cpu.costs.instruction); // SAVE_REGS, SAVE_REST, pushfq, SET_G3_FS_BASE
    cpu.swapgs(); // ring 3 gets a GS base of its own; the per-CPU area waits in KERNEL_GS_BASE
    cpu.iretq();
  }

  /** dune_ret_from_user: abandon the user context; jumpToUser's caller resumes with `ret`. */
  retFromUser(cpu: Cpu, ret: number): void {
    const ur = this.threadOf(cpu).userReturns;
    const rsp = ur.pop()!;
    const cont = ur.pop()!;
    cpu.mmu.write64(cpu.gsBase + PERCPU.inUsermode, 0, 0);
    cpu.setReg(RAX, ret);
    cpu.setReg(RSP, rsp);
    cpu.jump(cont);
  }

  private retFromUserFinish(cpu: Cpu): void {
    cpu.ret();
  }

  /** The guest ring-0 FS base of user mode (dune_get/set_user_fs). */
  setUserFs(cpu: Cpu, v: number): void {
    cpu.mmu.write64Number(cpu.gsBase + PERCPU.ufsBase, v);
  }
}

/** RFLAGS for guest ring 3: IOPL is the ring-3 mark (RFLAGS_G3), whatever `rflags` held. */
function userRflags(rflags: number): number {
  return ((rflags & ~RFLAGS_IOPL) | RFLAGS_G3) >>> 0;
}
