import { PAGE_SIZE } from '../vtx/arch.js';
import { CodeBuilder } from '../vtx/code-builder.js';
import type { Cpu } from '../vtx/cpu.js';
import type { Kernel } from '../linux/kernel.js';
import type { Process } from '../linux/task.js';
import type { DuneLayout } from './dune-layout.js';
import { DuneS } from './libdune/dune-s.js';
import { Entry, LIBDUNE_TEXT, type FatalExitHook } from './libdune/entry.js';
import { GuestAccess } from './libdune/guest-access.js';
import { PAGEBASE, PagePool } from './libdune/page-pool.js';
import { Trap, type IntrHandler, type PgfltHandler, type SyscallHandler } from './libdune/trap.js';
import { Vm, type PageWalkCb } from './libdune/vm.js';

export { DUNE_S } from './libdune/dune-s.js';
export { LIBDUNE_TEXT } from './libdune/entry.js';
export { PAGEBASE } from './libdune/page-pool.js';
export { TF, TF_SIZE } from './libdune/trap-frame.js';
export { VA_END, VA_START } from './libdune/vm.js';
export type { IntrHandler, PgfltHandler, SyscallHandler } from './libdune/trap.js';
export type { PageWalkCb } from './libdune/vm.js';

/**
 * libDune (guest ring 0), named after libdune/dune.h, as one object per process. The work is
 * done by its parts, one concern each (core/dune/libdune/): the page pool (PagePool), the
 * page-table manager with the TLB, CR3 and PCID side (Vm), the trap and system-call dispatch
 * (Trap), getting into Dune and back (Entry), libDune's assembly (DuneS) and the way its code
 * reaches memory (GuestAccess). This class holds what they share and keeps the flat API the
 * rest of dunesim calls.
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
  readonly mem: GuestAccess;
  readonly pool: PagePool;
  readonly vm: Vm;
  readonly trap: Trap;
  readonly entry: Entry;
  readonly duneS: DuneS;

  constructor(readonly kernel: Kernel, readonly process: Process, opts: { poolPages?: number } = {}, parent?: LibDune) {
    const poolLimit = parent?.pool.limit ?? PAGEBASE + (opts.poolPages ?? 8192) * PAGE_SIZE;
    this.mem = new GuestAccess(kernel, process);
    this.pool = new PagePool(this.mem, poolLimit, parent?.pool);
    this.vm = new Vm(this.mem, this.pool, kernel.machine.stats, parent?.vm);
    this.trap = new Trap(this, parent?.trap);
    this.entry = new Entry(this, parent?.entry);
    this.duneS = new DuneS(this, parent?.duneS);
    process.libdune = this;
    if (parent !== undefined) {
      // fork: the child's memory is a copy of the parent's, and libDune's state in it with it.
      this.text = parent.text;
      this.layout = parent.layout;
      this.pgroot = parent.pgroot;
      this.fd = parent.fd;
    } else {
      this.text = new CodeBuilder(kernel.machine.natives, LIBDUNE_TEXT, 'libdune');
      this.duneS.build(this.text);
    }
  }

  /** The libDune of the process running on `cpu` (natives live at one address in every copy). */
  of(cpu: Cpu): LibDune {
    const l = this.kernel.current[cpu.index]?.process.libdune;
    return l instanceof LibDune ? l : this;
  }

  /** The copy a fork child gets (its memory is a copy of this process's). */
  forkInto(child: Process): LibDune {
    return new LibDune(this.kernel, child, {}, this);
  }

  // -----------------------------------------------------------------------------------------
  // Memory access (GuestAccess).

  /** The CPU whose guest code calls libDune now: the page-table manager works through its MMU. */
  runningOn(cpu: Cpu): void {
    this.mem.cpu = cpu;
  }

  /** High half of the last entry read with readEntry (PTEs use bit 63: not a JS number). */
  get entHi(): number {
    return this.mem.entHi;
  }

  /** Reads a 64-bit page-table entry; returns the low half, leaves the high half in entHi. */
  readEntry(va: number): number {
    return this.mem.readEntry(va);
  }

  writeEntry(va: number, lo: number, hi: number): void {
    this.mem.writeEntry(va, lo, hi);
  }

  // -----------------------------------------------------------------------------------------
  // Page pool (page.c).

  pageAlloc(): number {
    return this.pool.pageAlloc();
  }

  pageGet(pa: number): void {
    this.pool.pageGet(pa);
  }

  pagePut(pa: number): void {
    this.pool.pagePut(pa);
  }

  poolPagesLeft(): number {
    return this.pool.pagesLeft();
  }

  isFromPool(pa: number): boolean {
    return this.pool.isFromPool(pa);
  }

  // -----------------------------------------------------------------------------------------
  // Page tables, TLB, CR3 and PCIDs (vm.c).

  static ptePerm(perm: number): { lo: number; hi: number } {
    return Vm.ptePerm(perm);
  }

  static frameOf(lo: number, hi: number): number {
    return Vm.frameOf(lo, hi);
  }

  vmLookup(root: number, va: number, create: boolean): number {
    return this.vm.vmLookup(root, va, create);
  }

  vmLookupLevel(root: number, va: number, level: number, create: boolean): number {
    return this.vm.vmLookupLevel(root, va, level, create);
  }

  vmMapBig(root: number, va: number, pa: number, perm: number): void {
    this.vm.vmMapBig(root, va, pa, perm);
  }

  vmSplitBig(root: number, va: number): boolean {
    return this.vm.vmSplitBig(root, va);
  }

  vmMapPhys(root: number, va: number, len: number, pa: number, perm: number): void {
    this.vm.vmMapPhys(root, va, len, pa, perm);
  }

  vmMapPages(root: number, va: number, len: number, perm: number): number {
    return this.vm.vmMapPages(root, va, len, perm);
  }

  vmMprotect(cpu: Cpu, root: number, va: number, len: number, perm: number): number {
    return this.vm.vmMprotect(cpu, root, va, len, perm);
  }

  vmUnmap(cpu: Cpu, root: number, va: number, len: number): void {
    this.vm.vmUnmap(cpu, root, va, len);
  }

  vmPageWalk(root: number, start: number, end: number, cb: PageWalkCb): void {
    this.vm.vmPageWalk(root, start, end, cb);
  }

  vmClone(root: number): number {
    return this.vm.vmClone(root);
  }

  vmFree(cpu: Cpu | undefined, root: number): void {
    this.vm.vmFree(cpu, root);
  }

  vmHarvestDirty(cpu: Cpu, root: number, start: number, end: number): number[] {
    return this.vm.vmHarvestDirty(cpu, root, start, end);
  }

  /** dune_va_to_pa. */
  vaToPa(va: number): number {
    return this.layout.hvaToGpa(va);
  }

  flushTlbOne(cpu: Cpu, va: number): void {
    this.vm.flushTlbOne(cpu, va);
  }

  flushTlb(cpu: Cpu): void {
    this.vm.flushTlb(cpu);
  }

  loadCr3(cpu: Cpu, root: number, pcid = 0, noFlush = false): void {
    this.vm.loadCr3(cpu, root, pcid, noFlush);
  }

  switchRoot(cpu: Cpu, root: number, pcid: number, noFlush: boolean): void {
    this.vm.switchRoot(cpu, root, pcid, noFlush);
  }

  pcidAlloc(): number {
    return this.vm.pcidAlloc();
  }

  pcidFree(cpu: Cpu, pcid: number): void {
    this.vm.pcidFree(cpu, pcid);
  }

  // -----------------------------------------------------------------------------------------
  // Handlers and trap frames (trap.c).

  registerPgfltHandler(h: PgfltHandler): void {
    this.trap.registerPgfltHandler(h);
  }

  registerIntrHandler(vector: number, h: IntrHandler): void {
    this.trap.registerIntrHandler(vector, h);
  }

  registerSyscallHandler(h: SyscallHandler): void {
    this.trap.registerSyscallHandler(h);
  }

  passthroughSyscall(cpu: Cpu, tf: number): void {
    this.trap.passthroughSyscall(cpu, tf);
  }

  raiseFromTrap(cpu: Cpu, tf: number, signo: number, code: number, addr: number): void {
    this.trap.raiseFromTrap(cpu, tf, signo, code, addr);
  }

  tfGet(cpu: Cpu, tf: number, off: number): number {
    return this.trap.tfGet(cpu, tf, off);
  }

  tfSet(cpu: Cpu, tf: number, off: number, v: number): void {
    this.trap.tfSet(cpu, tf, off, v);
  }

  // -----------------------------------------------------------------------------------------
  // dune_init, dune_enter, ring 3 (entry.c, dune.S).

  init(cpu: Cpu, mapFull: boolean): void {
    this.entry.init(cpu, mapFull);
  }

  emitEnter(code: CodeBuilder, label: string, cont: string): void {
    this.entry.emitEnter(code, label, cont);
  }

  get onFatalExit(): FatalExitHook | undefined {
    return this.entry.onFatalExit;
  }

  set onFatalExit(h: FatalExitHook | undefined) {
    this.entry.onFatalExit = h;
  }

  /** The last fatal DUNE_RET outcome (for reports and tests). */
  get lastExit(): { ret: number; status: number } | undefined {
    return this.entry.lastExit;
  }

  jumpToUser(cpu: Cpu, rip: number, rsp: number, cont: number): void {
    this.duneS.jumpToUser(cpu, rip, rsp, cont);
  }

  retFromUser(cpu: Cpu, ret: number): void {
    this.duneS.retFromUser(cpu, ret);
  }

  setUserFs(cpu: Cpu, v: number): void {
    this.duneS.setUserFs(cpu, v);
  }
}
