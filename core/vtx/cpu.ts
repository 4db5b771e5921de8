import {
  CANONICAL_LIMIT,
  CR0_PG, CR0_WP, CR3_NOFLUSH_HI, CR4_PAE, CR4_PCIDE, CR4_SMEP, CR4_PGE, CR4_VMXE, EFER_LMA, EFER_NXE, EFER_SCE,
  MSR_CSTAR, MSR_EFER, MSR_FMASK, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_TSC, MSR_KERNEL_GS_BASE,
  MSR_LSTAR, MSR_STAR, MSR_TSC_AUX, MSR_IA32_VMX_BASIC, MSR_IA32_FEATURE_CONTROL,
  RFLAGS_AC, RFLAGS_CF, RFLAGS_FIXED, RFLAGS_IF, RFLAGS_IOPL, RFLAGS_NT, RFLAGS_RF, RFLAGS_TF,
  RFLAGS_VM, RFLAGS_ZF, Vector, isContributory, vectorHasErrorCode, VECTOR_MNEMONIC,
} from './arch.js';
import { CpuFault, MachineShutdown } from './cpu-fault.js';
import { CostModel } from './cost-model.js';
import { CpuidLeaf } from './cpuid.js';
import { Mmu, MmuHost } from './mmu.js';
import { NativeCodeRegistry, NATIVE_STUB_LENGTH } from './native-code.js';
import { PhysicalMemory } from './physical-memory.js';
import { AccessKind } from './tlb.js';
import { Stats } from '../stats.js';
import { Tracer } from '../tracer.js';
import { PortBus } from './devices/bus.js';
import { LocalApic, MSR_X2APIC_EOI, MSR_X2APIC_IRR0, MSR_X2APIC_ISR0, MSR_X2APIC_PPR, MSR_X2APIC_TPR } from './local-apic.js';
import { Vmx } from './vmx.js';
import { VmExitReason } from './vmcs-field.js';
import type { X87 } from './interp/x87.js';
import { fxLoad, fxStore } from './fx-save-area.js';
import { CPU_MODE_DESCRIPTIONS, CPU_MODE_NAMES, CpuMode } from './cpu-mode.js';

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

const TWO_32 = 0x1_0000_0000;

/** Thrown to abandon the current instruction once a VM exit has switched the CPU to the host. */
export class VmExitSignal {
  reason = 0;
}

/** Something the model cannot do (not a guest fault): e.g. no interpreter for real x86 bytes. */
export class MachineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MachineError';
  }
}

/** An instruction decoder/executor for real x86 bytes (provided by the interpreter). */
export interface Interpreter {
  /**
   * Executes the instruction at `cpu.rip`; raises faults by throwing `cpu.fault`. It may go on
   * with the following instructions while `cpu.cycles < limit` (stopping before a native stub and
   * after any instruction that hands over to the CPU), which is exactly what calling it again
   * would do; the default limit 0 executes one instruction.
   */
  /** `pa`: the host address `cpu.rip` was just fetched from, when the caller translated it (else -1). */
  step(cpu: Cpu, limit?: number, pa?: number): void;
  /** Writes state the interpreter keeps lazily (arithmetic flags) back into the CPU fields. */
  sync?(cpu: Cpu): void;
  /** The CPU's x87 FPU, which the interpreter keeps (absent: no x87 state). */
  readonly x87?: X87;
}

export interface CpuEnvironment {
  readonly mem: PhysicalMemory;
  readonly natives: NativeCodeRegistry;
  readonly costs: CostModel;
  readonly stats: Stats;
  readonly tracer: Tracer;
  readonly cpuid: Map<number, CpuidLeaf>;
  readonly physBits: number;
  /** The I/O ports IN and OUT reach (optional: without it there are no port devices). */
  readonly ports?: PortBus;
}

/**
 * One logical processor: x86-64 architectural state, exception and interrupt delivery through
 * the IDT, SYSCALL/SYSRET, the privileged operations with their CPL checks and VM exits, and a
 * per-CPU cycle clock. General-purpose registers are two 32-bit halves (`lo[i]`, `hi[i]`);
 * linear addresses are JS numbers in the canonical range [-2^47, 2^47).
 */
export class Cpu implements MmuHost {
  readonly lo = new Uint32Array(16);
  readonly hi = new Uint32Array(16);
  /** RIP of the current instruction (a signed canonical address). */
  rip = 0;
  rflags = RFLAGS_FIXED;
  cpl = 0;
  cs = 0;
  ss = 0;
  /** Data-segment selectors (64-bit mode ignores their bases, but FS and GS loads set theirs). */
  ds = 0;
  es = 0;
  fs = 0;
  gs = 0;

  cr0 = 0;
  cr2 = 0;
  /** CR3 as loaded (PML4 base | PCID), without bit 63. */
  cr3 = 0;
  cr3Base = 0;
  pcid = 0;
  cr4 = 0;
  efer = 0;

  // MSRs shared by host and guest (the VMCS does not switch them).
  starLo = 0;
  starHi = 0;
  lstar = 0;
  cstar = 0;
  fmask = 0;
  fsBase = 0;
  gsBase = 0;
  kernelGsBase = 0;
  tscAux = 0;
  /** High half of the last RDMSR result. */
  msrHi = 0;

  idtrBase = 0;
  idtrLimit = 0xffff;
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  trSelector = 0;
  trBase = 0;
  trLimit = 0;

  /** The simulated clock of this CPU, in cycles. */
  cycles = 0;
  instructions = 0;
  halted = false;
  /** Set by `stop()`; run loops return at the next instruction boundary. */
  stopped = false;
  /** Length of the instruction being executed (recorded in VM exits). */
  instrLength = 0;
  /** Set by every control transfer, so a native that does not branch falls through. */
  branched = false;
  /**
   * XMM0..XMM15, four 32-bit lanes each (register i is lanes 4i..4i+3). The buffer has room for
   * one more register after XMM15, which the interpreter uses for memory operands.
   */
  readonly xmm = new Uint32Array(new ArrayBuffer(17 * 16), 0, 64);
  mxcsr = 0x1f80;

  // MmuHost: the EPT context, maintained by VMX entry and exit.
  eptActive = false;
  eptRoot = 0;
  eptAd = false;
  vpid = 0;
  eptId = 0;

  readonly fault = new CpuFault();
  readonly exitSignal = new VmExitSignal();
  readonly mmu: Mmu;
  readonly vmx: Vmx;
  interpreter: Interpreter | undefined;

  /** Pending external interrupt vectors (from devices or IPIs), delivered at instruction boundaries. */
  /** The local APIC: interrupts requested, in service, and the task priority. */
  readonly apic = new LocalApic();
  /** Vector being delivered, for the double-fault rules; -1 when none. */
  private delivering = -1;

  readonly mem: PhysicalMemory;
  readonly costs: CostModel;
  readonly stats: Stats;
  readonly tracer: Tracer;
  /** The machine's I/O ports (IN/OUT executed outside a guest reach these devices). */
  readonly ports: PortBus;
  private readonly natives: NativeCodeRegistry;
  private readonly cpuidTable: Map<number, CpuidLeaf>;
  private readonly sv: Float64Array;
  private readonly sExceptions: number;
  private readonly sByVector: number[] = [];
  private readonly sSyscalls: number;
  private readonly sNatives: number;
  private readonly sInterrupts: number;
  /** Counter slots of the cycles spent in each `CpuMode`, and where the open interval began. */
  private readonly sModeCycles: number[] = [];
  private readonly sModeInstructions: number[] = [];
  private modeSince = 0;
  private modeInstructionsSince = 0;

  constructor(readonly index: number, env: CpuEnvironment, mmuConfig: { entries4k: number; ways4k: number; entriesLarge: number; waysLarge: number; psc?: { pml4: number; pdpt: number; pd: number } }) {
    this.mem = env.mem;
    this.costs = env.costs;
    this.stats = env.stats;
    this.tracer = env.tracer;
    this.ports = env.ports ?? new PortBus();
    this.natives = env.natives;
    this.cpuidTable = env.cpuid;
    this.sv = env.stats.v;
    const name = `cpu${index}`;
    this.mmu = new Mmu(env.mem, this, { ...mmuConfig, physBits: env.physBits, walkRef: env.costs.walkRef, mmioRead: env.costs.mmioRead, mmioWrite: env.costs.mmioWrite }, env.stats, name);
    this.vmx = new Vmx(this);
    this.sExceptions = env.stats.counter(`${name}.exceptions`, 'count', 'exceptions and interrupts delivered through the IDT');
    for (let v = 0; v < 32; v++) {
      const m = VECTOR_MNEMONIC[v];
      if (m && !m.startsWith('res')) {
        this.sByVector[v] = env.stats.counter(`${name}.exceptions.${m.replace('#', '')}`, 'count', `${m} delivered through the IDT`);
      }
    }
    this.sSyscalls = env.stats.counter(`${name}.syscalls`, 'count', 'SYSCALL instructions executed');
    this.sNatives = env.stats.counter(`${name}.natives`, 'count', 'native-code instructions executed');
    this.sInterrupts = env.stats.counter(`${name}.interrupts`, 'count', 'external interrupts accepted');
    for (let m = 0; m < CPU_MODE_NAMES.length; m++) {
      this.sModeCycles[m] = env.stats.counter(`${name}.cycles.${CPU_MODE_NAMES[m]}`, 'cycles', CPU_MODE_DESCRIPTIONS[m]!);
      // Per mode, so that a server's own work per request (ring 3) is read apart from its kernel's.
      this.sModeInstructions[m] = env.stats.counter(`${name}.instructions.${CPU_MODE_NAMES[m]}`, 'count', `instructions retired in that mode: ${CPU_MODE_DESCRIPTIONS[m]!}`);
    }
    // A read of the counters sees the interval still open, so a snapshot taken mid-slice is exact.
    env.stats.onSample(() => this.accountMode());
  }

  /** The mode the clock is counted in now: where `cycles` goes between two mode changes. */
  get mode(): CpuMode {
    if (this.halted) return CpuMode.Idle;
    return (this.vmx.nonRoot ? CpuMode.GuestKernel : CpuMode.Kernel) + (this.cpl === 3 ? 1 : 0);
  }

  /**
   * Closes the open interval of the clock into the counter of the current mode. Whatever changes
   * the CPL, the halted state or VMX root/non-root calls it first, so every cycle counts in the
   * mode it was spent in (a transition's own cost counts in the mode it enters). This is the
   * split of `top`/`/proc/stat` (user, system, guest, idle) and what IX's "~75 % of the time in
   * the kernel on Linux, < 10 % in IX" is measured by.
   */
  accountMode(): void {
    const now = this.cycles;
    const mode = this.mode;
    this.sv[this.sModeCycles[mode]!] += now - this.modeSince;
    this.modeSince = now;
    this.sv[this.sModeInstructions[mode]!] += this.instructions - this.modeInstructionsSince;
    this.modeInstructionsSince = this.instructions;
  }

  /**
   * Moves the clock on to `t` (when behind) as time the CPU slept: for a CPU an interrupt has
   * just woken, whose clock catches up with the event that woke it.
   */
  idleUntil(t: number): void {
    this.accountMode();
    if (this.cycles < t) {
      this.sv[this.sModeCycles[CpuMode.Idle]!] += t - this.cycles;
      this.cycles = t;
      this.modeSince = t;
    }
  }

  /** Leaves the halted state (an interrupt, a wake-up), counting the time until now as idle. */
  wake(): void {
    if (!this.halted) return;
    this.accountMode();
    this.halted = false;
  }

  // ---------------------------------------------------------------------------------------
  // Registers.

  /** A register as a signed number (exact while |value| < 2^53: addresses, counts). */
  reg(i: number): number {
    return (this.hi[i]! | 0) * TWO_32 + this.lo[i]!;
  }

  setReg(i: number, v: number): void {
    this.lo[i] = v >>> 0;
    this.hi[i] = Math.floor(v / TWO_32) >>> 0;
  }

  setReg64(i: number, lo: number, hi: number): void {
    this.lo[i] = lo;
    this.hi[i] = hi;
  }

  /** A register as an unsigned BigInt (edges only: tests, traces). */
  regBig(i: number): bigint {
    return (BigInt(this.hi[i]!) << 32n) | BigInt(this.lo[i]!);
  }

  get rsp(): number {
    return this.reg(RSP);
  }

  set rsp(v: number) {
    this.setReg(RSP, v);
  }

  /**
   * A control transfer: sets RIP and marks the instruction as having branched. A non-canonical
   * target is #GP(0) at the transferring instruction (SDM Vol. 2A JMP), so RIP never holds one.
   */
  jump(target: number): void {
    if (target >= CANONICAL_LIMIT || target < -CANONICAL_LIMIT) this.gp0();
    this.rip = target;
    this.branched = true;
  }

  push64(lo: number, hi: number): void {
    const sp = this.rsp - 8;
    this.mmu.write64(sp, lo, hi);
    this.rsp = sp;
  }

  pushNumber(v: number): void {
    this.push64(v >>> 0, Math.floor(v / TWO_32) >>> 0);
  }

  popNumber(): number {
    const sp = this.rsp;
    const v = this.mmu.read64Number(sp);
    this.rsp = sp + 8;
    return v;
  }

  /** RET: pops RIP. */
  ret(): void {
    // The target is checked before RSP moves (a faulting RET pops nothing).
    const sp = this.rsp;
    this.jump(this.mmu.read64Number(sp));
    this.rsp = sp + 8;
  }

  /** CALL: pushes the address of the next instruction and jumps. */
  call(target: number): void {
    if (target >= CANONICAL_LIMIT || target < -CANONICAL_LIMIT) this.gp0();
    this.pushNumber(this.rip + this.instrLength);
    this.jump(target);
  }

  /** Charges `n` cycles to this CPU's clock. */
  charge(n: number): void {
    this.cycles += n;
  }

  stop(): void {
    this.stopped = true;
  }

  // ---------------------------------------------------------------------------------------
  // EPT faults, reported by the MMU during a guest walk (SDM Vol. 3C §28.2.1).

  eptViolation(qualification: number, gpa: number, gla: number): void {
    this.interpreter?.sync?.(this);
    this.vmx.exitDuringAccess(VmExitReason.EptViolation, qualification, gpa, gla);
  }

  eptMisconfig(gpa: number): void {
    this.interpreter?.sync?.(this);
    this.vmx.exitDuringAccess(VmExitReason.EptMisconfig, 0, gpa, 0);
  }

  /**
   * If the instruction at RIP is a native, executes it now (used right after a VM exit, when
   * the CPU's next instruction is the VMM's handler at HOST_RIP) and returns true.
   */
  runNativeAtRip(): boolean {
    const rip = this.rip;
    let pa: number;
    try {
      pa = this.mmu.fetchAddress(rip);
    } catch {
      return false; // the fetch faults: leave it to the normal instruction loop
    }
    const native = this.natives.at(this.mem, pa, this.cpl);
    if (native === undefined) return false;
    this.instrLength = NATIVE_STUB_LENGTH;
    this.branched = false;
    // The handler runs after the exit, outside any guest event delivery (the double-fault rules
    // must not pair a host exception with the guest's event); a retried access restores it.
    const delivering = this.delivering;
    this.delivering = -1;
    native.fn(this);
    this.delivering = delivering;
    this.sv[this.sNatives]++;
    this.instructions += native.instructions;
    this.cycles += native.instructions * this.costs.instruction;
    if (!this.branched) this.rip = rip + NATIVE_STUB_LENGTH;
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // The context the MMU tags its TLB entries with.

  updateMmuContext(): void {
    this.mmu.setMode(this.cpl === 3, ((this.eptId << 28) | (this.vpid << 12) | this.pcid) | 0);
    // Every change of CPL or of VMX operation passes here: the trace's CPU track follows it.
    if (this.tracer.enabled) this.tracer.cpuState(this.index, this.cycles, this.privilegeName());
  }

  /** What the CPU runs now, as the trace names it: ring and VMX operation. */
  privilegeName(): string {
    if (this.vmx.nonRoot) return this.cpl === 3 ? 'guest ring 3' : 'guest ring 0';
    return this.cpl === 3 ? 'user' : 'kernel';
  }

  /** The CPU has nothing to run (HLT, or the kernel's idle loop) until an interrupt. */
  /**
   * This CPU's x87 and SSE state as an FXSAVE image: what the kernel keeps for a task it switches
   * away from, and what a signal frame's fpstate holds.
   */
  saveFpu(img: DataView): void {
    fxStore(this, this.interpreter?.x87, img);
  }

  /** Loads an FXSAVE image into the CPU; false (nothing loaded) when its MXCSR sets a reserved bit. */
  restoreFpu(img: DataView): boolean {
    return fxLoad(this, this.interpreter?.x87, img);
  }

  idle(): void {
    this.accountMode();
    this.halted = true;
    if (this.tracer.enabled) this.tracer.cpuState(this.index, this.cycles, 'idle');
  }

  // ---------------------------------------------------------------------------------------
  // Execution.

  /**
   * Executes one instruction (a native, or real x86 through the interpreter); with a `limit`,
   * the interpreter may go on while the clock is below it (see `Interpreter.step`).
   */
  step(limit = 0): void {
    if (this.apic.requested && (this.rflags & RFLAGS_IF) !== 0) this.acceptInterrupt();
    const rip = this.rip;
    try {
      this.executeAt(rip, limit);
    } catch (e) {
      this.handleThrown(e);
    }
  }

  private executeAt(rip: number, limit: number): void {
    const pa = this.mmu.fetchAddress(rip);
    const native = this.natives.at(this.mem, pa, this.cpl);
    if (native !== undefined) {
      this.instrLength = NATIVE_STUB_LENGTH;
      this.branched = false;
      native.fn(this);
      this.sv[this.sNatives]++;
      this.instructions += native.instructions;
      this.cycles += native.instructions * this.costs.instruction;
      if (!this.branched) this.rip = rip + NATIVE_STUB_LENGTH;
      return;
    }
    if (this.interpreter === undefined) {
      const bytes = Array.from(this.mem.u8.subarray(pa, Math.min(pa + 8, this.mem.size)), (b) => b.toString(16).padStart(2, '0'));
      throw new MachineError(
        `cpu${this.index}: no x86 interpreter is installed, cannot execute ${bytes.join(' ')} at rip 0x${rip.toString(16)}`,
      );
    }
    this.interpreter.step(this, limit, pa); // the fetch above serves the first instruction too
  }

  private handleThrown(e: unknown): void {
    // A fault raised while delivering an event goes through `raise` again, where the
    // double-fault rules decide (SDM Vol. 3A Table 6-5); a VM exit ends any delivery.
    let err = e;
    while (err === this.fault) {
      try {
        this.raise(this.fault.vector, this.fault.errorCode, this.fault.hasErrorCode, this.fault.cr2);
        return;
      } catch (e2) {
        err = e2;
      }
    }
    if (err !== this.exitSignal) throw err;
    this.delivering = -1;
  }

  /**
   * The local APIC timer in TSC-deadline mode (SDM Vol. 3A §10.5.4.1): when the clock reaches
   * `tscDeadline` the timer's vector is raised once and the deadline disarms (Infinity: off).
   * The clock is the TSC. The Linux model arms it for its scheduler tick.
   */
  tscDeadline = Infinity;
  timerVector = 0;

  /** Arms the TSC-deadline timer (a WRMSR to IA32_TSC_DEADLINE with the LVT timer's vector). */
  armTimer(deadline: number, vector: number): void {
    this.tscDeadline = deadline;
    this.timerVector = vector;
  }

  /**
   * Set to end the CPU's current slice early (another CPU just woke up, so the machine's
   * scheduler must look at the clocks again); the machine clears it at the next slice.
   */
  endSlice = false;

  /** Runs until the clock reaches `limit`, the CPU halts, or someone calls `stop()` or sets `endSlice`. */
  runUntil(limit: number): void {
    while (!this.halted && !this.stopped && !this.endSlice && this.cycles < limit) {
      if (this.cycles >= this.tscDeadline) {
        this.tscDeadline = Infinity;
        this.interrupt(this.timerVector);
      }
      this.step(limit < this.tscDeadline ? limit : this.tscDeadline);
    }
  }

  /** An external interrupt arrives at the local APIC (a device, the timer, an IPI). */
  interrupt(vector: number): void {
    this.apic.request(vector);
    if (this.halted && ((this.rflags & RFLAGS_IF) !== 0 || this.vmx.externalInterruptExiting())) this.wake();
  }

  /** Whether an interrupt is requested that the APIC's priorities let through now. */
  get hasPendingInterrupt(): boolean {
    return this.apic.deliverable() >= 0;
  }

  /** End of interrupt: what a handler writes to the x2APIC EOI MSR when it is done. */
  eoi(): void {
    this.wrmsr(MSR_X2APIC_EOI, 0, 0);
  }

  private acceptInterrupt(): void {
    // INTA: the highest requested vector above the processor priority moves into service; one
    // whose class is blocked by what is in service (or by TPR) waits for the EOI.
    const vector = this.apic.acknowledge();
    if (vector < 0) return;
    this.sv[this.sInterrupts]++;
    if (this.vmx.nonRoot && this.vmx.externalInterruptExiting()) {
      // Pin-based "external-interrupt exiting": the interrupt belongs to the host (SDM §26.2).
      try {
        this.vmx.exit(VmExitReason.ExternalInterrupt, 0, 0, 0, 0x8000_0000 | vector, 0);
      } catch (e) {
        if (e !== this.exitSignal) throw e;
      }
      return;
    }
    try {
      this.deliver(vector, 0, false, true);
    } catch (e) {
      this.handleThrown(e);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Exceptions (SDM Vol. 3A ch. 6).

  /** Raises an exception from inside an instruction: abandons it. */
  raiseFault(vector: number, errorCode = 0, hasErrorCode = vectorHasErrorCode(vector), cr2 = 0): never {
    throw this.fault.set(vector, errorCode, hasErrorCode, cr2);
  }

  gp0(): never {
    return this.raiseFault(Vector.GeneralProtection, 0, true);
  }

  ud(): never {
    return this.raiseFault(Vector.InvalidOpcode, 0, false);
  }

  /**
   * Delivers an exception at the instruction boundary: as a VM exit when the exception bitmap
   * asks for it (SDM Vol. 3C §26.2), otherwise through the IDT, applying the double-fault rules
   * (Vol. 3A Table 6-5) when it arises during another delivery.
   */
  raise(vector: number, errorCode: number, hasErrorCode: boolean, cr2: number): void {
    if (this.delivering >= 0) {
      const first = this.delivering;
      this.delivering = -1;
      const firstPfOrContrib = first === Vector.PageFault || isContributory(first);
      if (first === Vector.DoubleFault && (isContributory(vector) || vector === Vector.PageFault)) {
        this.tripleFault();
        return;
      }
      if ((isContributory(first) && isContributory(vector)) || (first === Vector.PageFault && (vector === Vector.PageFault || isContributory(vector)))) {
        if (firstPfOrContrib) {
          if (vector === Vector.PageFault) this.cr2 = cr2; // the #PF loads CR2 even as it becomes #DF
          this.raise(Vector.DoubleFault, 0, true, 0);
          return;
        }
      }
    }
    if (this.vmx.nonRoot && this.vmx.exceptionCausesExit(vector, errorCode)) {
      // A #PF that exits does not update CR2; the address goes to the exit qualification.
      this.vmx.exitForException(vector, errorCode, hasErrorCode, cr2);
      return;
    }
    if (vector === Vector.PageFault) this.cr2 = cr2;
    this.deliver(vector, errorCode, hasErrorCode, false);
  }

  private tripleFault(): never {
    if (this.vmx.nonRoot) this.vmx.exit(VmExitReason.TripleFault, 0, 0, 0, 0, 0);
    throw new MachineShutdown(`cpu${this.index}: triple fault at rip 0x${this.rip.toString(16)} (shutdown)`);
  }

  /**
   * IDT delivery in IA-32e mode (SDM Vol. 3A §6.14): read the 16-byte gate, switch to the
   * target code segment's privilege level, take the stack from TSS.RSPn or an IST slot, align
   * it to 16 bytes, push SS, RSP, RFLAGS, CS, RIP (and the error code), clear TF/NT/RF (and IF
   * for an interrupt gate).
   */
  deliver(vector: number, errorCode: number, hasErrorCode: boolean, external: boolean, software = false): void {
    const prevDelivering = this.delivering;
    this.delivering = vector;
    const ext = external ? 1 : 0;
    const idtErr = vector * 8 + 2 + ext;
    if (vector * 16 + 15 > this.idtrLimit) this.raiseFault(Vector.GeneralProtection, idtErr, true);
    const gate = this.idtrBase + vector * 16;
    const g0 = this.supRead32(gate);
    const g1 = this.supRead32(gate + 4);
    const g2 = this.supRead32(gate + 8);
    const type = (g1 >>> 8) & 0xf;
    const present = (g1 & 0x8000) !== 0;
    const dpl = (g1 >>> 13) & 3;
    const ist = g1 & 7;
    if (type !== 0xe && type !== 0xf) this.raiseFault(Vector.GeneralProtection, idtErr, true);
    if (software && dpl < this.cpl) this.raiseFault(Vector.GeneralProtection, idtErr, true);
    if (!present) this.raiseFault(Vector.SegmentNotPresent, idtErr, true);
    const selector = g0 >>> 16;
    const target = (g2 | 0) * TWO_32 + (((g1 & 0xffff_0000) | (g0 & 0xffff)) >>> 0);
    const newCpl = this.codeSegmentDpl(selector, ext);
    if (newCpl > this.cpl) this.raiseFault(Vector.GeneralProtection, (selector & ~3) + ext, true);

    const oldRsp = this.rsp;
    const oldSs = this.ss;
    const oldCs = this.cs;
    let rsp = oldRsp;
    if (ist !== 0) rsp = this.supRead64Number(this.trBase + 0x24 + (ist - 1) * 8);
    else if (newCpl < this.cpl) rsp = this.supRead64Number(this.trBase + 4 + newCpl * 8);
    rsp -= rsp - Math.floor(rsp / 16) * 16;
    // The frame, from the top: SS, RSP, RFLAGS, CS, RIP and the error code (SDM Vol. 3A Figure
    // 6-9). The whole frame is checked writable before any of it is written.
    const bottom = rsp - (hasErrorCode ? 6 : 5) * 8;
    this.mmu.translateAs(bottom, AccessKind.Write, false);
    this.mmu.translateAs(rsp - 8, AccessKind.Write, false);
    this.supWrite64Number(rsp - 8, oldSs);
    this.supWrite64Number(rsp - 16, oldRsp);
    this.supWrite64Number(rsp - 24, this.rflags);
    this.supWrite64Number(rsp - 32, oldCs);
    this.supWrite64Number(rsp - 40, this.rip);
    if (hasErrorCode) this.supWrite64Number(rsp - 48, errorCode);

    this.setReg(RSP, bottom);
    this.accountMode();
    if (newCpl < this.cpl) this.ss = newCpl; // NULL selector with RPL = new CPL
    this.cs = selector;
    this.cpl = newCpl;
    this.rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
    if (type === 0xe) this.rflags &= ~RFLAGS_IF;
    this.rip = target;
    this.branched = true;
    this.halted = false;
    this.updateMmuContext();
    this.cycles += this.costs.exceptionDelivery;
    this.sv[this.sExceptions]++;
    const s = this.sByVector[vector];
    if (s !== undefined) this.sv[s]++;
    if (this.tracer.enabled) {
      this.tracer.instant('exception', VECTOR_MNEMONIC[vector] ?? `int ${vector}`, this.index, this.cycles, {
        vector, errorCode: hasErrorCode ? errorCode : undefined, cr2: vector === 14 ? this.cr2 : undefined, to: target,
      });
    }
    this.delivering = prevDelivering;
  }

  /**
   * MOV to DS, ES, FS, GS or SS in 64-bit mode (SDM Vol. 2B "MOV—Move", Operation; Vol. 3A
   * §3.4.4). A null selector is accepted for DS/ES/FS/GS — and on Intel clears the FS or GS base
   * (AMD keeps it: Linux's X86_BUG_NULL_SEG) — and for SS only at CPL < 3 with RPL = CPL. Any
   * other selector must index the GDT (there is no LDT) and name a data or readable code segment
   * whose DPL admits both RPL and CPL (SS: a writable data segment with RPL = DPL = CPL), else
   * #GP(selector); a segment not present is #NP(selector) (#SS for SS). FS and GS loads take
   * the descriptor's 32-bit base. `sreg` is the ModRM reg field: 0 ES, 2 SS, 3 DS, 4 FS, 5 GS.
   */
  loadSegment(sreg: number, selector: number): void {
    selector &= 0xffff;
    const index = selector & ~7;
    const rpl = selector & 3;
    let base = 0;
    if (index === 0 && (selector & 4) === 0) {
      if (sreg === 2 && (this.cpl === 3 || rpl !== this.cpl)) this.gp0();
    } else {
      if ((selector & 4) !== 0 || index + 7 > this.gdtrLimit) this.raiseFault(Vector.GeneralProtection, index, true);
      const lo = this.supRead32(this.gdtrBase + index);
      const hi = this.supRead32(this.gdtrBase + index + 4);
      const isSegment = (hi & (1 << 12)) !== 0;
      const isCode = (hi & (1 << 11)) !== 0;
      const rw = (hi & (1 << 9)) !== 0; // writable data, readable code
      const conforming = isCode && (hi & (1 << 10)) !== 0;
      const dpl = (hi >>> 13) & 3;
      if (sreg === 2) {
        if (!isSegment || isCode || !rw || rpl !== this.cpl || dpl !== this.cpl) this.raiseFault(Vector.GeneralProtection, index, true);
        if ((hi & (1 << 15)) === 0) this.raiseFault(Vector.StackFault, index, true);
      } else {
        if (!isSegment || (isCode && !rw) || (!conforming && (rpl > dpl || this.cpl > dpl))) {
          this.raiseFault(Vector.GeneralProtection, index, true);
        }
        if ((hi & (1 << 15)) === 0) this.raiseFault(Vector.SegmentNotPresent, index, true);
      }
      base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
    }
    switch (sreg) {
      case 0: this.es = selector; break;
      case 2: this.ss = selector; break;
      case 3: this.ds = selector; break;
      case 4: this.fs = selector; this.fsBase = base; break;
      case 5: this.gs = selector; this.gsBase = base; break;
      default: this.ud();
    }
  }

  /** DPL of a present 64-bit code segment in the GDT, else #GP(selector). */
  private codeSegmentDpl(selector: number, ext: number): number {
    const index = selector & ~7;
    if (index === 0 || (selector & 4) !== 0 || index + 7 > this.gdtrLimit) {
      this.raiseFault(Vector.GeneralProtection, index + ext, true);
    }
    const hi = this.supRead32(this.gdtrBase + index + 4);
    const isCode = (hi & (1 << 12)) !== 0 && (hi & (1 << 11)) !== 0;
    const longMode = (hi & (1 << 21)) !== 0;
    if (!isCode || !longMode) this.raiseFault(Vector.GeneralProtection, index + ext, true);
    if ((hi & (1 << 15)) === 0) this.raiseFault(Vector.SegmentNotPresent, index + ext, true);
    return (hi >>> 13) & 3;
  }

  /**
   * IRETQ (SDM Vol. 2A "IRET"; 64-bit mode always pops five words). Returns to the same or an
   * outer privilege level.
   */
  iretq(): void {
    const sp = this.rsp;
    const rip = this.mmu.read64Number(sp);
    const cs = this.mmu.read64(sp + 8) & 0xffff;
    const rflags = this.mmu.read64(sp + 16);
    const rsp = this.mmu.read64Number(sp + 24);
    const ss = this.mmu.read64(sp + 32) & 0xffff;
    const rpl = cs & 3;
    if (rpl < this.cpl) this.gp0();
    if (rip >= CANONICAL_LIMIT || rip < -CANONICAL_LIMIT) this.gp0();
    // Which flags IRET may change depends on CPL and IOPL.
    let mask = 0x25_4dd5; // CF PF AF ZF SF TF DF OF NT RF AC ID; IF and IOPL below
    const iopl = (this.rflags & RFLAGS_IOPL) >>> 12;
    if (this.cpl === 0) mask |= RFLAGS_IOPL | RFLAGS_IF;
    else if (this.cpl <= iopl) mask |= RFLAGS_IF;
    this.rflags = ((this.rflags & ~mask) | (rflags & mask) | RFLAGS_FIXED) >>> 0;
    this.accountMode();
    this.cs = cs;
    this.ss = ss;
    this.cpl = rpl;
    this.setReg(RSP, rsp);
    this.jump(rip);
    this.updateMmuContext();
    this.cycles += this.costs.iretq;
  }

  // ---------------------------------------------------------------------------------------
  // SYSCALL / SYSRET (SDM Vol. 2B).

  syscall(): void {
    if ((this.efer & EFER_SCE) === 0) this.ud();
    const next = this.rip + this.instrLength;
    this.setReg(RCX, next);
    this.lo[R11] = this.rflags;
    this.hi[R11] = 0;
    this.rflags = ((this.rflags & ~this.fmask & ~RFLAGS_RF) | RFLAGS_FIXED) >>> 0;
    this.cs = (this.starHi & 0xffff) & ~3;
    this.ss = ((this.starHi & 0xffff) + 8) & ~3;
    this.accountMode();
    this.cpl = 0;
    this.jump(this.lstar);
    this.updateMmuContext();
    this.cycles += this.costs.syscall;
    this.sv[this.sSyscalls]++;
    if (this.tracer.enabled) this.tracer.instant('syscall', `syscall ${this.lo[RAX]}`, this.index, this.cycles, { nr: this.lo[RAX] });
  }

  /** SYSRET with REX.W (return to 64-bit code). */
  sysret(): void {
    if ((this.efer & EFER_SCE) === 0) this.ud();
    if (this.cpl !== 0) this.gp0();
    const target = this.reg(RCX);
    // Intel raises #GP in ring 0 for a non-canonical RCX (not in ring 3 as AMD does).
    if (target >= CANONICAL_LIMIT || target < -CANONICAL_LIMIT) this.gp0();
    this.rflags = ((this.lo[R11]! & 0x3c_7fd7) | RFLAGS_FIXED) >>> 0;
    const base = (this.starHi >>> 16) & 0xffff;
    this.cs = (base + 16) | 3;
    this.ss = (base + 8) | 3;
    this.accountMode();
    this.cpl = 3;
    this.jump(target);
    this.updateMmuContext();
    this.cycles += this.costs.sysret;
  }

  /** INT n (software interrupt): the gate's DPL is checked against CPL. */
  int(vector: number): void {
    const next = this.rip + this.instrLength;
    const rip = this.rip;
    this.rip = next; // the frame holds the address after INT n (a trap)
    try {
      this.deliver(vector, 0, false, false, true);
    } catch (e) {
      this.rip = rip;
      throw e;
    }
  }

  /**
   * INT3 (opcode CC). Unlike INT n (CD ib), which is a software interrupt and never consults
   * the exception bitmap, INT3 raises #BP as a software exception: in VMX non-root operation it
   * causes a VM exit when bit 3 of the exception bitmap is set (SDM Vol. 3C §25.2), with the
   * guest RIP still on the INT3 and the VM-exit instruction length recorded (§28.2.4), so that a
   * VMM can reinject it or step over it. Otherwise it is delivered through the IDT like INT 3,
   * gate DPL check included.
   */
  int3(): void {
    if (this.vmx.nonRoot && this.vmx.exceptionCausesExit(Vector.Breakpoint, 0)) this.vmx.exitForException(Vector.Breakpoint, 0, false, 0);
    this.int(Vector.Breakpoint);
  }

  // ---------------------------------------------------------------------------------------
  // Privileged operations. Each checks CPL (#GP(0) at CPL > 0) and, in VMX non-root operation,
  // the VM-execution controls that make it exit.

  private requireCpl0(): void {
    if (this.cpl !== 0) this.gp0();
  }

  readCr(n: number): number {
    this.requireCpl0();
    switch (n) {
      case 0: return this.vmx.nonRoot ? this.vmx.shadowCr0(this.cr0) : this.cr0;
      case 2: return this.cr2;
      case 3: this.vmx.checkCr3Store(); return this.cr3;
      case 4: return this.vmx.nonRoot ? this.vmx.shadowCr4(this.cr4) : this.cr4;
      default: return this.ud();
    }
  }

  /** MOV to CRn with a 64-bit source (lo, hi). `gpr` is the source register (exit qualification). */
  writeCr(n: number, lo: number, hi: number, gpr = RAX): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.crWriteExits(n, lo, gpr)) return;
    switch (n) {
      case 0: {
        if (hi !== 0) this.gp0();
        if ((lo & CR0_PG) !== 0 && (lo & 1) === 0) this.gp0(); // PG without PE
        const changed = (this.cr0 ^ lo) >>> 0;
        this.cr0 = lo >>> 0;
        if ((changed & (CR0_PG | CR0_WP)) !== 0) this.mmu.flushAllPcids(false);
        break;
      }
      case 2:
        this.cr2 = (hi | 0) * TWO_32 + lo;
        break;
      case 3:
        this.setCr3((hi & 0x7fff_ffff) * TWO_32 + lo, (hi & CR3_NOFLUSH_HI) !== 0);
        return;
      case 4: {
        if (hi !== 0) this.gp0();
        if ((lo & CR4_PCIDE) !== 0 && (this.cr4 & CR4_PCIDE) === 0 && (this.cr3 & 0xfff) !== 0) this.gp0();
        if ((lo & CR4_VMXE) === 0 && this.vmx.on) this.gp0();
        const changed = (this.cr4 ^ lo) >>> 0;
        this.cr4 = lo >>> 0;
        if ((changed & (CR4_PGE | CR4_PCIDE | CR4_PAE | CR4_SMEP)) !== 0) this.mmu.flushAllPcids(false);
        if ((changed & CR4_PCIDE) !== 0) {
          this.pcid = (this.cr4 & CR4_PCIDE) !== 0 ? this.cr3 & 0xfff : 0;
          this.updateMmuContext();
        }
        break;
      }
      default:
        this.ud();
    }
    this.mmu.resetMicro();
  }

  /**
   * MOV to CR3 (SDM Vol. 3A §4.10.4.1): with CR4.PCIDE=0 flushes the non-global entries of
   * PCID 0; with PCIDE=1 flushes those of the new PCID unless bit 63 (no-flush) is set.
   */
  loadCr3(value: number, noFlush = false): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.crWriteExits(3, value >>> 0, RAX)) return;
    this.setCr3(value, noFlush);
  }

  private setCr3(value: number, noFlush: boolean): void {
    const pcide = (this.cr4 & CR4_PCIDE) !== 0;
    if (noFlush && !pcide) this.gp0();
    if (value >= 2 ** this.mmu.config.physBits) this.gp0();
    this.cr3 = value;
    this.pcid = pcide ? value & 0xfff : 0;
    this.cr3Base = value - (value & 0xfff);
    this.updateMmuContext();
    if (!noFlush) this.mmu.flushPcid(this.pcid, true);
    this.mmu.resetMicro();
    this.cycles += this.costs.cr3Write;
    if (this.tracer.enabled) this.tracer.instant('tlb', noFlush ? 'mov cr3 (no flush)' : 'mov cr3', this.index, this.cycles, { cr3: value });
  }

  invlpg(va: number): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.invlpgExits(va)) return;
    this.mmu.invlpg(va);
    this.cycles += this.costs.invlpg;
    if (this.tracer.enabled) this.tracer.instant('tlb', 'invlpg', this.index, this.cycles, { va });
  }

  /** INVPCID (SDM Vol. 2A): type 0 individual address, 1 single context, 2 all incl. globals, 3 all but globals. */
  invpcid(type: number, pcid: number, va: number): void {
    if (this.vmx.nonRoot && this.vmx.invpcidExits()) return;
    this.requireCpl0();
    if (type > 3 || pcid > 0xfff) this.gp0();
    const pcide = (this.cr4 & CR4_PCIDE) !== 0;
    if ((type === 0 || type === 1) && !pcide && pcid !== 0) this.gp0();
    if (type === 0 && (va >= CANONICAL_LIMIT || va < -CANONICAL_LIMIT)) this.gp0();
    if (type === 0) this.mmu.flushPcidPage(pcid, va);
    else if (type === 1) this.mmu.flushPcid(pcid, true);
    else this.mmu.flushAllPcids(type === 3);
    this.cycles += this.costs.invlpg;
  }

  rdmsr(msr: number): number {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.msrExits(msr, false)) return this.lo[RAX]!;
    this.cycles += this.costs.msrAccess;
    const split = (v: number): number => {
      this.msrHi = Math.floor(v / TWO_32) >>> 0;
      return v >>> 0;
    };
    switch (msr) {
      case MSR_EFER: this.msrHi = 0; return this.efer;
      case MSR_STAR: this.msrHi = this.starHi; return this.starLo;
      case MSR_LSTAR: return split(this.lstar);
      case MSR_CSTAR: return split(this.cstar);
      case MSR_FMASK: this.msrHi = 0; return this.fmask;
      case MSR_FS_BASE: return split(this.fsBase);
      case MSR_GS_BASE: return split(this.gsBase);
      case MSR_KERNEL_GS_BASE: return split(this.kernelGsBase);
      case MSR_TSC_AUX: this.msrHi = 0; return this.tscAux;
      case MSR_IA32_TSC: return split(this.cycles);
      case MSR_IA32_FEATURE_CONTROL: this.msrHi = 0; return 0x5; // locked, VMXON outside SMX allowed
      case MSR_IA32_VMX_BASIC: this.msrHi = 0x00da_0400 >>> 0; return 0x11; // revision 0x11, 4 KiB regions, WB
      case MSR_X2APIC_TPR: this.msrHi = 0; return this.apic.tpr;
      case MSR_X2APIC_PPR: this.msrHi = 0; return this.apic.processorPriority();
      default:
        if (msr >= MSR_X2APIC_ISR0 && msr < MSR_X2APIC_ISR0 + 8) return this.apicBits(msr - MSR_X2APIC_ISR0, (v) => this.apic.isInService(v));
        if (msr >= MSR_X2APIC_IRR0 && msr < MSR_X2APIC_IRR0 + 8) return this.apicBits(msr - MSR_X2APIC_IRR0, (v) => this.apic.isRequested(v));
        return this.gp0();
    }
  }

  wrmsr(msr: number, lo: number, hi: number): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.msrExits(msr, true)) return;
    this.cycles += this.costs.msrAccess;
    const num = (hi | 0) * TWO_32 + lo;
    const canonical = (): number => {
      if (num >= CANONICAL_LIMIT || num < -CANONICAL_LIMIT) this.gp0();
      return num;
    };
    switch (msr) {
      case MSR_EFER: {
        if (hi !== 0 || (lo & ~0x4d01) !== 0) this.gp0(); // SCE, LME, LMA, NXE, FFXSR
        const changed = (this.efer ^ lo) >>> 0;
        // LMA is not writable: it follows LME once paging is on (SDM Vol. 3A §9.8.5).
        this.efer = ((lo & ~EFER_LMA) | ((lo & 0x100) !== 0 && (this.cr0 & CR0_PG) !== 0 ? EFER_LMA : 0)) >>> 0;
        if ((changed & EFER_NXE) !== 0) this.mmu.flushAllPcids(false);
        return;
      }
      case MSR_STAR: this.starLo = lo >>> 0; this.starHi = hi >>> 0; return;
      case MSR_LSTAR: this.lstar = canonical(); return;
      case MSR_CSTAR: this.cstar = canonical(); return;
      case MSR_FMASK: this.fmask = lo >>> 0; return;
      case MSR_FS_BASE: this.fsBase = canonical(); return;
      case MSR_GS_BASE: this.gsBase = canonical(); return;
      case MSR_KERNEL_GS_BASE: this.kernelGsBase = canonical(); return;
      case MSR_TSC_AUX: this.tscAux = lo >>> 0; return;
      case MSR_X2APIC_TPR:
        if ((lo & ~0xff) !== 0 || hi !== 0) this.gp0(); // reserved bits (SDM §10.12.1.2)
        this.apic.tpr = lo;
        return;
      case MSR_X2APIC_EOI:
        if (lo !== 0 || hi !== 0) this.gp0(); // a non-zero write to the x2APIC EOI is #GP
        this.apic.eoi();
        return;
      default: this.gp0();
    }
  }

  /** 32 bits of IRR or ISR (x2APIC MSRs 0x810–0x827: word `w` holds vectors 32w..32w+31). */
  private apicBits(w: number, has: (v: number) => boolean): number {
    let bits = 0;
    for (let b = 0; b < 32; b++) if (has(w * 32 + b)) bits |= 1 << b;
    this.msrHi = 0;
    return bits >>> 0;
  }

  swapgs(): void {
    this.requireCpl0();
    const g = this.gsBase;
    this.gsBase = this.kernelGsBase;
    this.kernelGsBase = g;
  }

  hlt(): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.hltExits()) return;
    this.idle();
  }

  cli(): void {
    if (this.cpl > ((this.rflags & RFLAGS_IOPL) >>> 12)) this.gp0();
    this.rflags &= ~RFLAGS_IF;
  }

  sti(): void {
    if (this.cpl > ((this.rflags & RFLAGS_IOPL) >>> 12)) this.gp0();
    this.rflags |= RFLAGS_IF;
  }

  lgdt(base: number, limit: number): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.descriptorTableExits(VmExitReason.GdtrIdtrAccess)) return;
    this.gdtrBase = base;
    this.gdtrLimit = limit & 0xffff;
    this.cycles += this.costs.descriptorLoad;
  }

  lidt(base: number, limit: number): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.descriptorTableExits(VmExitReason.GdtrIdtrAccess)) return;
    this.idtrBase = base;
    this.idtrLimit = limit & 0xffff;
    this.cycles += this.costs.descriptorLoad;
  }

  /** LTR: loads TR from a 16-byte available 64-bit TSS descriptor and marks it busy. */
  ltr(selector: number): void {
    this.requireCpl0();
    if (this.vmx.nonRoot && this.vmx.descriptorTableExits(VmExitReason.LdtrTrAccess)) return;
    const index = selector & ~7;
    if (index === 0 || (selector & 4) !== 0 || index + 15 > this.gdtrLimit) this.raiseFault(Vector.GeneralProtection, index, true);
    const d0 = this.supRead32(this.gdtrBase + index);
    const d1 = this.supRead32(this.gdtrBase + index + 4);
    const d2 = this.supRead32(this.gdtrBase + index + 8);
    const type = (d1 >>> 8) & 0xf;
    if (type !== 0x9) this.raiseFault(Vector.GeneralProtection, index, true); // available 64-bit TSS
    if ((d1 & 0x8000) === 0) this.raiseFault(Vector.SegmentNotPresent, index, true);
    this.trSelector = selector;
    this.trBase = (d2 | 0) * TWO_32 + (((d1 & 0xff00_0000) | ((d1 & 0xff) << 16) | (d0 >>> 16)) >>> 0);
    this.trLimit = (d0 & 0xffff) | (d1 & 0x000f_0000);
    const pa = this.mmu.translateAs(this.gdtrBase + index + 4, AccessKind.Write, false);
    this.mem.write32(pa, d1 | (0x2 << 8)); // busy
    this.cycles += this.costs.descriptorLoad;
  }

  /** CPUID: always exits in VMX non-root operation; natively answers from the table. */
  cpuid(): void {
    if (this.vmx.nonRoot) {
      this.vmx.exit(VmExitReason.Cpuid, 0, 0, 0, 0, 0);
    }
    const leaf = this.cpuidTable.get(this.lo[RAX]!);
    const max = this.lo[RAX]! >= 0x8000_0000 ? this.cpuidTable.get(0x8000_0000)!.eax : this.cpuidTable.get(0)!.eax;
    const l = leaf !== undefined && this.lo[RAX]! <= max ? leaf : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    this.setReg64(RAX, l.eax >>> 0, 0);
    this.setReg64(RBX, l.ebx >>> 0, 0);
    this.setReg64(RCX, l.ecx >>> 0, 0);
    this.setReg64(RDX, l.edx >>> 0, 0);
    this.cycles += this.costs.cpuid;
  }

  /** RDTSC: the cycle clock (plus the VMCS TSC offset in a guest that uses offsetting). */
  rdtsc(): void {
    if ((this.cr4 & 4) !== 0 && this.cpl > 0) this.gp0(); // CR4.TSD
    if (this.vmx.nonRoot && this.vmx.rdtscExits()) return;
    this.cycles += this.costs.rdtsc;
    const t = this.cycles + (this.vmx.nonRoot ? this.vmx.tscOffset() : 0);
    this.setReg64(RAX, t >>> 0, 0);
    this.setReg64(RDX, Math.floor(t / TWO_32) >>> 0, 0);
  }

  /** VMCALL (SDM Vol. 2B / 3C §26.1.2): exits unconditionally in VMX non-root operation, at any CPL. */
  vmcall(): void {
    if (this.vmx.nonRoot) this.vmx.exit(VmExitReason.Vmcall, 0, 0, 0, 0, 0);
    if (!this.vmx.on) this.ud();
    this.requireCpl0();
    this.vmx.vmFailValid(1); // VMCALL executed in VMX root operation
  }

  // ---------------------------------------------------------------------------------------
  // Implicit supervisor-mode accesses (IDT, GDT, TSS), which are supervisor even at CPL 3.

  private supRead32(va: number): number {
    return this.mem.read32(this.mmu.translateAs(va, AccessKind.Read, false));
  }

  private supRead64Number(va: number): number {
    const pa = this.mmu.translateAs(va, AccessKind.Read, false);
    const lo = this.mem.read64(pa);
    return (this.mem.hi | 0) * TWO_32 + lo;
  }

  private supWrite64Number(va: number, v: number): void {
    const pa = this.mmu.translateAs(va, AccessKind.Write, false);
    this.mem.write64(pa, v >>> 0, Math.floor(v / TWO_32) >>> 0);
  }

  // ---------------------------------------------------------------------------------------
  // Reset / boot helpers.

  /** Long mode with paging, as firmware and a boot loader leave it (Linux's state at runtime). */
  enterLongMode(cr3: number, opts: { nx?: boolean; pcid?: boolean; pge?: boolean } = {}): void {
    this.cr0 = 0x8000_0033 | CR0_WP; // PG | WP | NE | ET | MP | PE
    this.cr4 = CR4_PAE | (opts.pge === false ? 0 : CR4_PGE) | (opts.pcid ? CR4_PCIDE : 0);
    this.efer = 0x500 | EFER_SCE | (opts.nx === false ? 0 : EFER_NXE); // LME | LMA | SCE | NXE
    this.accountMode();
    this.cpl = 0;
    this.cs = 0x10;
    this.ss = 0x18;
    this.cr3 = cr3;
    this.pcid = opts.pcid ? cr3 & 0xfff : 0;
    this.cr3Base = cr3 - (cr3 & 0xfff);
    this.mmu.flushAll();
    this.updateMmuContext();
  }

  /** AT_HWCAP: the feature bits of CPUID leaf 1 EDX, as Linux passes them to a new program. */
  get hwcap(): number {
    return this.cpuidTable.get(1)?.edx ?? 0;
  }

  /** RFLAGS bits by name, for traces. */
  static flagsString(f: number): string {
    const names: Array<[number, string]> = [[RFLAGS_CF, 'CF'], [RFLAGS_ZF, 'ZF'], [RFLAGS_IF, 'IF'], [RFLAGS_AC, 'AC']];
    return names.filter(([b]) => (f & b) !== 0).map(([, n]) => n).join('|');
  }
}
