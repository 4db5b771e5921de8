import {
  CR4_VMXE, EFER_LMA, EFER_LME, EPTP_AD_ENABLE, PAGE_SIZE, RFLAGS_AF, RFLAGS_CF, RFLAGS_FIXED,
  RFLAGS_OF, RFLAGS_PF, RFLAGS_SF, RFLAGS_ZF, Vector,
} from './arch.js';
import type { Cpu } from './cpu.js';
import { RSP } from './cpu.js';
import { Vmcs, VMCS_REVISION_ID, isKnownVmcsField } from './vmcs.js';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING, CPU_HLT_EXITING,
  CPU_INVLPG_EXITING, CPU_RDTSC_EXITING, CPU_USE_MSR_BITMAPS, CPU_USE_TSC_OFFSETTING,
  ENTRY_IA32E_MODE, ENTRY_LOAD_EFER, EXIT_HOST_ADDR_SPACE_SIZE, EXIT_LOAD_EFER, EXIT_SAVE_EFER,
  INTR_INFO_DELIVER_CODE, INTR_INFO_VALID, INTR_TYPE_EXTERNAL, INTR_TYPE_HARD_EXCEPTION,
  INTR_TYPE_SOFT_EXCEPTION, PIN_EXTERNAL_INTERRUPT_EXITING, SECONDARY_DESC_TABLE_EXITING,
  SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_INVPCID, SECONDARY_ENABLE_VPID, VM_EXIT_REASON_ENTRY_FAILURE,
  VmExitReason, VmInstructionError, VmcsField as F,
} from './vmcs-field.js';

/** Exit reasons caused by executing an instruction: they record the instruction length. */
const INSTRUCTION_EXITS = new Set<number>([
  VmExitReason.Cpuid, VmExitReason.Hlt, VmExitReason.Invd, VmExitReason.Invlpg, VmExitReason.Rdpmc,
  VmExitReason.Rdtsc, VmExitReason.Vmcall, VmExitReason.Vmclear, VmExitReason.Vmlaunch,
  VmExitReason.Vmptrld, VmExitReason.Vmptrst, VmExitReason.Vmread, VmExitReason.Vmresume,
  VmExitReason.Vmwrite, VmExitReason.Vmxoff, VmExitReason.Vmxon, VmExitReason.CrAccess,
  VmExitReason.MovDr, VmExitReason.IoInstruction, VmExitReason.Rdmsr, VmExitReason.Wrmsr,
  VmExitReason.Mwait, VmExitReason.Monitor, VmExitReason.Pause, VmExitReason.GdtrIdtrAccess,
  VmExitReason.LdtrTrAccess, VmExitReason.Invept, VmExitReason.Rdtscp, VmExitReason.Invvpid,
  VmExitReason.Wbinvd, VmExitReason.Xsetbv, VmExitReason.Rdrand, VmExitReason.Invpcid,
]);

const TWO_32 = 0x1_0000_0000;
const STATUS_FLAGS = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF;
const MAX_EPT_IDS = 15;

/**
 * VMX operation of one CPU (SDM Vol. 3C ch. 24–29): VMXON, the current VMCS, VM entry with its
 * checks, VM exit with the SDM's exit information, the VM-execution controls that decide which
 * guest operations exit, and the VMX instructions (VMREAD, VMWRITE, INVEPT, INVVPID …).
 *
 * A VM exit saves the guest state into the VMCS, loads the host state — including RIP from
 * HOST_RIP, where the VMM's exit handler lives (a native in host memory) — and abandons the
 * guest instruction. The handler ends with VMRESUME, which loads the guest state again.
 */
export class Vmx {
  on = false;
  nonRoot = false;
  vmxonPa = -1;
  current: Vmcs | undefined;

  // Controls cached at VM entry (the VMCS cannot change while the guest runs: VMWRITE exits).
  private pin = 0;
  private primary = 0;
  private secondary = 0;
  private exceptionBitmap = 0;
  private pfecMask = 0;
  private pfecMatch = 0;
  private cr0Mask = 0;
  private cr4Mask = 0;
  private cr0Shadow = 0;
  private cr4Shadow = 0;
  private msrBitmap = 0;
  private tscOffsetValue = 0;

  private readonly vmcsByPa = new Map<number, Vmcs>();
  private readonly eptIds = new Map<number, number>();
  private nextEptId = 1;
  private readonly sExits: number;
  private readonly sExitByReason = new Map<number, number>();
  private readonly sEntries: number;

  constructor(private readonly cpu: Cpu) {
    const s = cpu.stats;
    const name = `cpu${cpu.index}`;
    this.sExits = s.counter(`${name}.vmx.exits`, 'count', 'VM exits (all reasons)');
    this.sEntries = s.counter(`${name}.vmx.entries`, 'count', 'VM entries (VMLAUNCH and VMRESUME)');
    for (const [k, v] of Object.entries(VmExitReason)) {
      if (typeof v === 'number') {
        this.sExitByReason.set(v, s.counter(`${name}.vmx.exits.${k}`, 'count', `VM exits with basic reason ${v} (${k})`));
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Results of VMX instructions (SDM Vol. 3C §31.2).

  vmSucceed(): void {
    this.cpu.rflags = (this.cpu.rflags & ~STATUS_FLAGS) >>> 0;
  }

  vmFailInvalid(): void {
    this.cpu.rflags = ((this.cpu.rflags & ~STATUS_FLAGS) | RFLAGS_CF) >>> 0;
  }

  vmFailValid(error: VmInstructionError | number): void {
    if (this.current === undefined) return this.vmFailInvalid();
    this.cpu.rflags = ((this.cpu.rflags & ~STATUS_FLAGS) | RFLAGS_ZF) >>> 0;
    this.current.write(F.VM_INSTRUCTION_ERROR, error);
  }

  private vmcsAt(pa: number): Vmcs {
    let v = this.vmcsByPa.get(pa);
    if (v === undefined) {
      v = new Vmcs(this.cpu.mem, pa);
      this.vmcsByPa.set(pa, v);
    }
    return v;
  }

  /** Common checks of the VMX instructions: exit in a guest, #UD outside VMX, #GP above CPL 0. */
  private vmxInstruction(reason: VmExitReason): void {
    if (this.nonRoot) this.exit(reason, 0, 0, 0, 0, 0);
    if (!this.on) this.cpu.ud();
    if (this.cpu.cpl !== 0) this.cpu.gp0();
  }

  private validRegion(pa: number): boolean {
    return pa % PAGE_SIZE === 0 && pa >= 0 && pa < 2 ** this.cpu.mmu.config.physBits && pa + PAGE_SIZE <= this.cpu.mem.size;
  }

  // ---------------------------------------------------------------------------------------
  // VMX instructions.

  vmxon(pa: number): void {
    const cpu = this.cpu;
    if (this.nonRoot) this.exit(VmExitReason.Vmxon, 0, 0, 0, 0, 0);
    if ((cpu.cr4 & CR4_VMXE) === 0) cpu.ud();
    if (cpu.cpl !== 0) cpu.gp0();
    if (this.on) return this.vmFailValid(VmInstructionError.VmxonInVmxRoot);
    if (!this.validRegion(pa) || cpu.mem.read32(pa) !== VMCS_REVISION_ID) return this.vmFailInvalid();
    this.on = true;
    this.vmxonPa = pa;
    this.vmSucceed();
  }

  vmxoff(): void {
    this.vmxInstruction(VmExitReason.Vmxoff);
    this.on = false;
    this.current = undefined;
    this.vmxonPa = -1;
    this.vmSucceed();
  }

  vmptrld(pa: number): void {
    this.vmxInstruction(VmExitReason.Vmptrld);
    if (!this.validRegion(pa)) return this.vmFailValid(VmInstructionError.VmptrldInvalidAddress);
    if (pa === this.vmxonPa) return this.vmFailValid(10);
    if (this.cpu.mem.read32(pa) !== VMCS_REVISION_ID) return this.vmFailValid(11);
    this.current = this.vmcsAt(pa);
    this.vmSucceed();
  }

  vmclear(pa: number): void {
    this.vmxInstruction(VmExitReason.Vmclear);
    if (!this.validRegion(pa)) return this.vmFailValid(VmInstructionError.VmclearInvalidAddress);
    if (pa === this.vmxonPa) return this.vmFailValid(VmInstructionError.VmclearVmxon);
    this.vmcsAt(pa).launched = false;
    if (this.current?.pa === pa) this.current = undefined;
    this.vmSucceed();
  }

  vmread(field: F): number {
    this.vmxInstruction(VmExitReason.Vmread);
    if (this.current === undefined) {
      this.vmFailInvalid();
      return 0;
    }
    if (!isKnownVmcsField(field)) {
      this.vmFailValid(VmInstructionError.UnsupportedVmcsComponent);
      return 0;
    }
    this.vmSucceed();
    return this.current.read(field);
  }

  vmwrite(field: F, value: number): void {
    this.vmxInstruction(VmExitReason.Vmwrite);
    if (this.current === undefined) return this.vmFailInvalid();
    if (!isKnownVmcsField(field)) return this.vmFailValid(VmInstructionError.UnsupportedVmcsComponent);
    if (((field >>> 10) & 3) === 1) return this.vmFailValid(13); // VMWRITE to a read-only field
    this.current.write(field, value);
    this.vmSucceed();
  }

  vmlaunch(): void {
    this.vmxInstruction(VmExitReason.Vmlaunch);
    this.enter(true);
  }

  vmresume(): void {
    this.vmxInstruction(VmExitReason.Vmresume);
    this.enter(false);
  }

  /** INVEPT: type 1 single-context (one EPTP), type 2 global (SDM Vol. 3C §30.3). */
  invept(type: number, eptp: number): void {
    this.vmxInstruction(VmExitReason.Invept);
    const mmu = this.cpu.mmu;
    if (type === 1) {
      const id = this.eptIds.get(eptp - (eptp % PAGE_SIZE));
      if (id !== undefined) mmu.flushEptContext(id);
    } else if (type === 2) {
      mmu.flushAllEpt();
    } else {
      return this.vmFailValid(28);
    }
    this.vmSucceed();
  }

  /** INVVPID: 0 individual address, 1 single context, 2 all contexts, 3 single context keeping globals. */
  invvpid(type: number, vpid: number, va: number): void {
    this.vmxInstruction(VmExitReason.Invvpid);
    const mmu = this.cpu.mmu;
    if (type !== 2 && vpid === 0) return this.vmFailValid(28);
    if (type === 0) mmu.flushVpidPage(vpid, va);
    else if (type === 1) mmu.flushVpid(vpid, false);
    else if (type === 2) {
      for (let v = 1; v < 0x10000; v++) if (this.vpidSeen.has(v)) mmu.flushVpid(v, false);
    } else if (type === 3) mmu.flushVpid(vpid, true);
    else return this.vmFailValid(28);
    this.vmSucceed();
  }

  private readonly vpidSeen = new Set<number>();

  // ---------------------------------------------------------------------------------------
  // VM entry (SDM Vol. 3C ch. 27).

  private enter(launch: boolean): void {
    const cpu = this.cpu;
    const v = this.current;
    if (v === undefined) return this.vmFailInvalid();
    if (launch && v.launched) return this.vmFailValid(VmInstructionError.VmlaunchNonClear);
    if (!launch && !v.launched) return this.vmFailValid(VmInstructionError.VmresumeNonLaunched);

    // Checks on the controls (§27.2.1).
    const pin = v.read(F.PIN_BASED_VM_EXEC_CONTROL);
    const primary = v.read(F.CPU_BASED_VM_EXEC_CONTROL);
    const secondary = (primary & CPU_ACTIVATE_SECONDARY_CONTROLS) !== 0 ? v.read(F.SECONDARY_VM_EXEC_CONTROL) : 0;
    const entryCtls = v.read(F.VM_ENTRY_CONTROLS);
    const exitCtls = v.read(F.VM_EXIT_CONTROLS);
    const vpid = v.read(F.VIRTUAL_PROCESSOR_ID);
    const eptp = v.read(F.EPT_POINTER);
    if ((secondary & SECONDARY_ENABLE_VPID) !== 0 && vpid === 0) return this.vmFailValid(VmInstructionError.EntryInvalidControl);
    if ((secondary & SECONDARY_ENABLE_EPT) !== 0) {
      const mt = eptp & 7;
      const walk = (eptp >>> 3) & 7;
      if ((mt !== 0 && mt !== 6) || walk !== 3 || (eptp & 0xf80) !== 0) return this.vmFailValid(VmInstructionError.EntryInvalidControl);
    }
    // Checks on the host state (§27.2.2): 64-bit host with paging.
    const hostCr0 = v.read(F.HOST_CR0);
    const hostCr4 = v.read(F.HOST_CR4);
    if (((hostCr0 & 0x8000_0001) >>> 0) !== 0x8000_0001 || (hostCr4 & 0x20) === 0 || (hostCr4 & CR4_VMXE) === 0 || (exitCtls & EXIT_HOST_ADDR_SPACE_SIZE) === 0) {
      return this.vmFailValid(VmInstructionError.EntryInvalidHostState);
    }
    this.vmSucceed();

    // Checks on the guest state (§27.3.1): failures are VM exits with reason 33.
    const gcr0 = v.read(F.GUEST_CR0);
    const gcr4 = v.read(F.GUEST_CR4);
    const grflags = v.read(F.GUEST_RFLAGS);
    const grip = v.read(F.GUEST_RIP);
    const ia32e = (entryCtls & ENTRY_IA32E_MODE) !== 0;
    const guestOk =
      ((gcr0 & 0x8000_0001) >>> 0) === 0x8000_0001 && (gcr4 & 0x20) !== 0 && (gcr4 & CR4_VMXE) !== 0 && ia32e &&
      (grflags & RFLAGS_FIXED) !== 0 && (grflags & 0xffc0_8028) === 0 && grip < 2 ** 47 && grip >= -(2 ** 47);
    if (!guestOk) {
      this.loadHostState(v, VmExitReason.EntryFailInvalidGuestState | VM_EXIT_REASON_ENTRY_FAILURE);
      return;
    }

    this.pin = pin;
    this.primary = primary;
    this.secondary = secondary;
    this.exceptionBitmap = v.read(F.EXCEPTION_BITMAP);
    this.pfecMask = v.read(F.PAGE_FAULT_ERROR_CODE_MASK);
    this.pfecMatch = v.read(F.PAGE_FAULT_ERROR_CODE_MATCH);
    this.cr0Mask = v.read(F.CR0_GUEST_HOST_MASK);
    this.cr4Mask = v.read(F.CR4_GUEST_HOST_MASK);
    this.cr0Shadow = v.read(F.CR0_READ_SHADOW);
    this.cr4Shadow = v.read(F.CR4_READ_SHADOW);
    this.msrBitmap = v.read(F.MSR_BITMAP);
    this.tscOffsetValue = (primary & CPU_USE_TSC_OFFSETTING) !== 0 ? v.read(F.TSC_OFFSET) : 0;

    // Load the guest state (§27.3.2).
    cpu.cr0 = gcr0 >>> 0;
    cpu.cr4 = gcr4 >>> 0;
    const gcr3 = v.read(F.GUEST_CR3);
    cpu.cr3 = gcr3;
    cpu.pcid = (gcr4 & 0x2_0000) !== 0 ? gcr3 & 0xfff : 0;
    cpu.cr3Base = gcr3 - (gcr3 & 0xfff);
    if ((entryCtls & ENTRY_LOAD_EFER) !== 0) cpu.efer = v.read(F.GUEST_IA32_EFER) >>> 0;
    else cpu.efer = (cpu.efer | EFER_LMA | EFER_LME) >>> 0;
    cpu.setReg(RSP, v.read(F.GUEST_RSP));
    cpu.rflags = grflags >>> 0;
    cpu.cs = v.read(F.GUEST_CS_SELECTOR);
    cpu.ss = v.read(F.GUEST_SS_SELECTOR);
    cpu.accountMode(); // the time before the entry counts in root mode
    cpu.ds = v.read(F.GUEST_DS_SELECTOR);
    cpu.es = v.read(F.GUEST_ES_SELECTOR);
    cpu.fs = v.read(F.GUEST_FS_SELECTOR);
    cpu.gs = v.read(F.GUEST_GS_SELECTOR);
    cpu.cpl = (v.read(F.GUEST_SS_AR_BYTES) >>> 5) & 3;
    cpu.fsBase = v.read(F.GUEST_FS_BASE);
    cpu.gsBase = v.read(F.GUEST_GS_BASE);
    cpu.gdtrBase = v.read(F.GUEST_GDTR_BASE);
    cpu.gdtrLimit = v.read(F.GUEST_GDTR_LIMIT);
    cpu.idtrBase = v.read(F.GUEST_IDTR_BASE);
    cpu.idtrLimit = v.read(F.GUEST_IDTR_LIMIT);
    cpu.trSelector = v.read(F.GUEST_TR_SELECTOR);
    cpu.trBase = v.read(F.GUEST_TR_BASE);
    cpu.trLimit = v.read(F.GUEST_TR_LIMIT);
    cpu.halted = v.read(F.GUEST_ACTIVITY_STATE) === 1;
    cpu.jump(grip);

    // Address-translation context: VPID tags, EPT root (§28.3, §29.4).
    if ((secondary & SECONDARY_ENABLE_VPID) !== 0) {
      cpu.vpid = vpid;
      this.vpidSeen.add(vpid);
    } else {
      cpu.vpid = 0;
      cpu.mmu.flushVpid(0, false); // without VPIDs, VM entries invalidate VPID 0's mappings
    }
    if ((secondary & SECONDARY_ENABLE_EPT) !== 0) {
      cpu.eptActive = true;
      cpu.eptRoot = eptp - (eptp % PAGE_SIZE);
      cpu.eptAd = (eptp & EPTP_AD_ENABLE) !== 0;
      cpu.eptId = this.eptIdFor(cpu.eptRoot);
    } else {
      cpu.eptActive = false;
      cpu.eptId = 0;
    }
    this.nonRoot = true;
    v.launched = true;
    cpu.updateMmuContext();
    cpu.mmu.resetMicro();
    cpu.cycles += cpu.costs.vmEntry;
    cpu.stats.v[this.sEntries]++;
    if (cpu.tracer.enabled) cpu.tracer.instant('vmx', launch ? 'vmlaunch' : 'vmresume', cpu.index, cpu.cycles, { rip: grip, vpid: cpu.vpid });

    // Event injection (§27.6): deliver the event the VMM put in the entry interruption field.
    const inj = v.read(F.VM_ENTRY_INTR_INFO_FIELD);
    if ((inj & INTR_INFO_VALID) !== 0) {
      v.write(F.VM_ENTRY_INTR_INFO_FIELD, inj & ~INTR_INFO_VALID);
      const vector = inj & 0xff;
      const type = inj & 0x700;
      const hasCode = (inj & INTR_INFO_DELIVER_CODE) !== 0;
      cpu.deliver(vector, v.read(F.VM_ENTRY_EXCEPTION_ERROR_CODE), hasCode, type === INTR_TYPE_EXTERNAL);
    }
  }

  /** A small id per EPT root, folded into TLB tags; recycled (with a flush) past 15 roots. */
  private eptIdFor(root: number): number {
    let id = this.eptIds.get(root);
    if (id !== undefined) return id;
    if (this.nextEptId > MAX_EPT_IDS) {
      const [oldRoot, oldId] = this.eptIds.entries().next().value as [number, number];
      this.eptIds.delete(oldRoot);
      this.cpu.mmu.flushEptContext(oldId);
      id = oldId;
    } else {
      id = this.nextEptId++;
    }
    this.eptIds.set(root, id);
    return id;
  }

  // ---------------------------------------------------------------------------------------
  // VM exit (SDM Vol. 3C ch. 28).

  /**
   * Records the exit information, saves the guest state, loads the host state and abandons the
   * guest instruction (throws the CPU's exit signal). `intrInfo` is the VM-exit interruption
   * information for exception exits.
   */
  exit(reason: number, qualification: number, gpa: number, gla: number, intrInfo: number, intrError: number): never {
    this.exitToHost(reason, qualification, gpa, gla, intrInfo, intrError);
    throw this.cpu.exitSignal;
  }

  /**
   * A VM exit in the middle of an access (EPT violation or misconfiguration): when the VMM's
   * handler at HOST_RIP is a native and resumes the guest unchanged, the access is retried in
   * place — what restarting the faulting instruction would do, without re-running a native's
   * earlier side effects. Otherwise the guest instruction is abandoned (exit signal).
   */
  exitDuringAccess(reason: number, qualification: number, gpa: number, gla: number): void {
    const cpu = this.cpu;
    const guestRip = cpu.rip;
    // The guest instruction goes on afterwards: keep its own view of whether it branched.
    const branched = cpu.branched;
    const instrLength = cpu.instrLength;
    if (this.exitToHost(reason, qualification, gpa, gla, 0, 0) && this.nonRoot && cpu.rip === guestRip) {
      cpu.branched = branched;
      cpu.instrLength = instrLength;
      return;
    }
    throw cpu.exitSignal;
  }

  /**
   * Performs the exit and, when HOST_RIP holds a native (the VMM written in TypeScript), runs it
   * at once, as the next instruction the CPU would execute. Returns whether it ran.
   */
  private exitToHost(reason: number, qualification: number, gpa: number, gla: number, intrInfo: number, intrError: number): boolean {
    const cpu = this.cpu;
    const v = this.current!;
    cpu.accountMode(); // the guest's time ends here; the exit's own cost counts in root mode
    cpu.cycles += cpu.costs.vmExit;
    const sv = cpu.stats.v;
    sv[this.sExits]++;
    const s = this.sExitByReason.get(reason);
    if (s !== undefined) sv[s]++;
    v.write(F.VM_EXIT_REASON, reason);
    v.write(F.EXIT_QUALIFICATION, qualification);
    v.write(F.GUEST_PHYSICAL_ADDRESS, gpa);
    v.write(F.GUEST_LINEAR_ADDRESS, gla);
    v.write(F.VM_EXIT_INTR_INFO, intrInfo);
    v.write(F.VM_EXIT_INTR_ERROR_CODE, intrError);
    // Instruction exits, and exits for a software exception (INT3, INTO), record the length of
    // the instruction (§28.2.4).
    const softException = reason === VmExitReason.ExceptionOrNmi && (intrInfo & (7 << 8)) === INTR_TYPE_SOFT_EXCEPTION;
    v.write(F.VM_EXIT_INSTRUCTION_LEN, INSTRUCTION_EXITS.has(reason) || softException ? cpu.instrLength : 0);

    // Save the guest state (§28.3).
    v.write(F.GUEST_RIP, cpu.rip);
    v.write(F.GUEST_RSP, cpu.reg(RSP));
    v.write(F.GUEST_RFLAGS, cpu.rflags);
    v.write(F.GUEST_CR0, cpu.cr0);
    v.write(F.GUEST_CR3, cpu.cr3);
    v.write(F.GUEST_CR4, cpu.cr4);
    v.write(F.GUEST_CS_SELECTOR, cpu.cs);
    v.write(F.GUEST_SS_SELECTOR, cpu.ss);
    v.write(F.GUEST_DS_SELECTOR, cpu.ds);
    v.write(F.GUEST_ES_SELECTOR, cpu.es);
    v.write(F.GUEST_FS_SELECTOR, cpu.fs);
    v.write(F.GUEST_GS_SELECTOR, cpu.gs);
    v.write(F.GUEST_CS_AR_BYTES, 0xa09b | (cpu.cpl << 5));
    v.write(F.GUEST_SS_AR_BYTES, 0xc093 | (cpu.cpl << 5));
    v.write(F.GUEST_FS_BASE, cpu.fsBase);
    v.write(F.GUEST_GS_BASE, cpu.gsBase);
    v.write(F.GUEST_GDTR_BASE, cpu.gdtrBase);
    v.write(F.GUEST_GDTR_LIMIT, cpu.gdtrLimit);
    v.write(F.GUEST_IDTR_BASE, cpu.idtrBase);
    v.write(F.GUEST_IDTR_LIMIT, cpu.idtrLimit);
    v.write(F.GUEST_TR_SELECTOR, cpu.trSelector);
    v.write(F.GUEST_TR_BASE, cpu.trBase);
    v.write(F.GUEST_TR_LIMIT, cpu.trLimit);
    v.write(F.GUEST_ACTIVITY_STATE, cpu.halted ? 1 : 0);
    if ((v.read(F.VM_EXIT_CONTROLS) & EXIT_SAVE_EFER) !== 0) v.write(F.GUEST_IA32_EFER, cpu.efer);
    const inj = v.read(F.VM_ENTRY_INTR_INFO_FIELD);
    if ((inj & INTR_INFO_VALID) !== 0) v.write(F.VM_ENTRY_INTR_INFO_FIELD, inj & ~INTR_INFO_VALID);

    if (cpu.tracer.enabled) {
      cpu.tracer.instant('vmx', `exit ${VmExitReason[reason] ?? reason}`, cpu.index, cpu.cycles, {
        reason, qualification, gpa: gpa || undefined, rip: cpu.rip,
      });
    }
    this.loadHostState(v, reason);
    // The time in VMX root until the next VM entry is the exit's: its span carries the reason.
    if (cpu.tracer.enabled) cpu.tracer.cpuState(cpu.index, cpu.cycles, `VM exit: ${VmExitReason[reason & 0xffff] ?? reason}`);
    return cpu.runNativeAtRip();
  }

  /** Loads the host-state area (§28.5) and leaves VMX non-root operation. */
  private loadHostState(v: Vmcs, reason: number): void {
    const cpu = this.cpu;
    if ((reason & VM_EXIT_REASON_ENTRY_FAILURE) !== 0) v.write(F.VM_EXIT_REASON, reason);
    cpu.cr0 = v.read(F.HOST_CR0) >>> 0;
    cpu.cr4 = v.read(F.HOST_CR4) >>> 0;
    const hcr3 = v.read(F.HOST_CR3);
    cpu.cr3 = hcr3;
    cpu.pcid = (cpu.cr4 & 0x2_0000) !== 0 ? hcr3 & 0xfff : 0;
    cpu.cr3Base = hcr3 - (hcr3 & 0xfff);
    const exitCtls = v.read(F.VM_EXIT_CONTROLS);
    if ((exitCtls & EXIT_LOAD_EFER) !== 0) cpu.efer = v.read(F.HOST_IA32_EFER) >>> 0;
    else cpu.efer = (cpu.efer | EFER_LMA | EFER_LME) >>> 0;
    cpu.setReg(RSP, v.read(F.HOST_RSP));
    cpu.cs = v.read(F.HOST_CS_SELECTOR);
    cpu.ss = v.read(F.HOST_SS_SELECTOR);
    cpu.ds = v.read(F.HOST_DS_SELECTOR);
    cpu.es = v.read(F.HOST_ES_SELECTOR);
    cpu.fs = v.read(F.HOST_FS_SELECTOR);
    cpu.gs = v.read(F.HOST_GS_SELECTOR);
    cpu.cpl = 0;
    cpu.fsBase = v.read(F.HOST_FS_BASE);
    cpu.gsBase = v.read(F.HOST_GS_BASE);
    cpu.trSelector = v.read(F.HOST_TR_SELECTOR);
    cpu.trBase = v.read(F.HOST_TR_BASE);
    cpu.gdtrBase = v.read(F.HOST_GDTR_BASE);
    cpu.gdtrLimit = 0xffff;
    cpu.idtrBase = v.read(F.HOST_IDTR_BASE);
    cpu.idtrLimit = 0xffff;
    cpu.rflags = RFLAGS_FIXED;
    cpu.halted = false;
    cpu.jump(v.read(F.HOST_RIP));
    const hadVpid = (this.secondary & SECONDARY_ENABLE_VPID) !== 0;
    cpu.vpid = 0;
    cpu.eptActive = false;
    cpu.eptId = 0;
    this.nonRoot = false;
    if (!hadVpid) cpu.mmu.flushVpid(0, false); // without VPIDs, VM exits invalidate VPID 0's mappings
    cpu.updateMmuContext();
    cpu.mmu.resetMicro();
  }

  // ---------------------------------------------------------------------------------------
  // The controls that decide whether a guest operation exits.

  externalInterruptExiting(): boolean {
    return this.nonRoot && (this.pin & PIN_EXTERNAL_INTERRUPT_EXITING) !== 0;
  }

  /** Exception bitmap, with the #PF error-code mask/match rule (§25.6.3). */
  exceptionCausesExit(vector: number, errorCode: number): boolean {
    const bit = (this.exceptionBitmap >>> vector) & 1;
    if (vector === Vector.PageFault) {
      const match = (errorCode & this.pfecMask) === this.pfecMatch;
      return bit === 1 ? match : !match;
    }
    return bit === 1;
  }

  exitForException(vector: number, errorCode: number, hasErrorCode: boolean, cr2: number): never {
    const type = vector === Vector.Breakpoint || vector === Vector.Overflow ? INTR_TYPE_SOFT_EXCEPTION : INTR_TYPE_HARD_EXCEPTION;
    const info = INTR_INFO_VALID | type | vector | (hasErrorCode ? INTR_INFO_DELIVER_CODE : 0);
    return this.exit(VmExitReason.ExceptionOrNmi, vector === Vector.PageFault ? cr2 : 0, 0, 0, info >>> 0, hasErrorCode ? errorCode : 0);
  }

  shadowCr0(cr0: number): number {
    return ((this.cr0Shadow & this.cr0Mask) | (cr0 & ~this.cr0Mask)) >>> 0;
  }

  shadowCr4(cr4: number): number {
    return ((this.cr4Shadow & this.cr4Mask) | (cr4 & ~this.cr4Mask)) >>> 0;
  }

  checkCr3Store(): void {
    if (this.nonRoot && (this.primary & CPU_CR3_STORE_EXITING) !== 0) this.exit(VmExitReason.CrAccess, 3 | (1 << 4), 0, 0, 0, 0);
  }

  /**
   * MOV to CR0/CR4 exits when it would change a host-owned bit away from the read shadow; MOV to
   * CR3 exits under CR3-load exiting (§26.1.3). Returns false when the write proceeds.
   */
  crWriteExits(n: number, value: number, gpr: number): boolean {
    const qual = n | (0 << 4) | (gpr << 8);
    if (n === 0 && ((value ^ this.cr0Shadow) & this.cr0Mask) !== 0) this.exit(VmExitReason.CrAccess, qual, 0, 0, 0, 0);
    if (n === 4 && ((value ^ this.cr4Shadow) & this.cr4Mask) !== 0) this.exit(VmExitReason.CrAccess, qual, 0, 0, 0, 0);
    if (n === 3 && (this.primary & CPU_CR3_LOAD_EXITING) !== 0) this.exit(VmExitReason.CrAccess, qual, 0, 0, 0, 0);
    return false;
  }

  invlpgExits(va: number): boolean {
    if ((this.primary & CPU_INVLPG_EXITING) !== 0) this.exit(VmExitReason.Invlpg, va, 0, 0, 0, 0);
    return false;
  }

  invpcidExits(): boolean {
    if ((this.secondary & SECONDARY_ENABLE_INVPCID) === 0) this.cpu.ud();
    if (this.cpu.cpl !== 0) this.cpu.gp0(); // privilege faults take priority over VM exits (§26.1.1)
    if ((this.primary & CPU_INVLPG_EXITING) !== 0) this.exit(VmExitReason.Invpcid, 0, 0, 0, 0, 0);
    return false;
  }

  hltExits(): boolean {
    if ((this.primary & CPU_HLT_EXITING) !== 0) this.exit(VmExitReason.Hlt, 0, 0, 0, 0, 0);
    return false;
  }

  rdtscExits(): boolean {
    if ((this.primary & CPU_RDTSC_EXITING) !== 0) this.exit(VmExitReason.Rdtsc, 0, 0, 0, 0, 0);
    return false;
  }

  descriptorTableExits(reason: VmExitReason): boolean {
    if ((this.secondary & SECONDARY_DESC_TABLE_EXITING) !== 0) this.exit(reason, 0, 0, 0, 0, 0);
    return false;
  }

  tscOffset(): number {
    return this.tscOffsetValue;
  }

  /** RDMSR/WRMSR: exit unless the MSR bitmap clears the MSR's bit (§25.6.9). */
  msrExits(msr: number, write: boolean): boolean {
    const reason = write ? VmExitReason.Wrmsr : VmExitReason.Rdmsr;
    if ((this.primary & CPU_USE_MSR_BITMAPS) === 0) this.exit(reason, 0, 0, 0, 0, 0);
    let offset: number;
    if (msr >= 0 && msr <= 0x1fff) offset = (write ? 2048 : 0) + (msr >>> 3);
    else if (msr >= 0xc000_0000 && msr <= 0xc000_1fff) offset = (write ? 3072 : 1024) + ((msr - 0xc000_0000) >>> 3);
    else this.exit(reason, 0, 0, 0, 0, 0);
    if ((this.cpu.mem.read8(this.msrBitmap + offset) >>> (msr & 7)) & 1) this.exit(reason, 0, 0, 0, 0, 0);
    return false;
  }
}

export { TWO_32 as VMX_TWO_32 };
