import { CR4_VMXE, EPT_R, EPT_W, EPT_X, EPTP_AD_ENABLE, EPTP_MT_WB, EPTP_WALK_LENGTH_4, GD_KD, GD_KT, GD_UD, GD_UT, PAGE_SIZE } from './arch.js';
import { LongModeBoot } from './boot.js';
import { Cpu } from './cpu.js';
import { PageTables, eptLeafFlags } from './page-tables.js';
import { VMCS_REVISION_ID } from './vmcs.js';
import { writeGuestStateLikeHost, writeHostState } from './vmcs-state.js';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_USE_MSR_BITMAPS, ENTRY_IA32E_MODE, EXIT_HOST_ADDR_SPACE_SIZE,
  PIN_EXTERNAL_INTERRUPT_EXITING, SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_INVPCID, SECONDARY_ENABLE_VPID,
  VmcsField as F,
} from './vmcs-field.js';

export interface VmxHarnessOptions {
  /** VPID for the guest; 0 runs without the "enable VPID" control. */
  vpid?: number;
  /** Identity-map all of RAM in the EPT up front (otherwise the EPT starts empty). */
  identityEpt?: boolean;
  /** EPT leaf permissions for the identity map. */
  eptPerm?: number;
  eptAd?: boolean;
  exceptionBitmap?: number;
  /** Decides, after each exit, whether to resume the guest. */
  onExit?: (cpu: Cpu, reason: number) => boolean;
}

/**
 * A minimal VMM for tests and benchmarks: VMXON, one VMCS with a 64-bit host and guest, an EPT,
 * and an exit handler (a native at HOST_RIP) that hands each exit to `onExit` and either
 * VMRESUMEs or stops the CPU. The Dune module (core/dune) is the real VMM; this harness exists so
 * the hardware can be exercised on its own.
 */
export class VmxHarness {
  readonly ept: PageTables;
  readonly vmcs: number;
  readonly vmxon: number;
  readonly hostEntry: number;
  readonly exits: number[] = [];
  onExit: (cpu: Cpu, reason: number) => boolean;

  constructor(readonly boot: LongModeBoot, readonly cpu: Cpu, readonly opts: VmxHarnessOptions = {}) {
    const m = boot.machine;
    this.onExit = opts.onExit ?? (() => false);
    this.ept = new PageTables(m.mem, m.frames, true);
    if (opts.identityEpt !== false) {
      const perm = eptLeafFlags(opts.eptPerm ?? (EPT_R | EPT_W | EPT_X));
      for (let pa = 0; pa < m.mem.size; pa += PAGE_SIZE) this.ept.map(pa, pa, perm);
    }
    this.vmxon = m.frames.alloc();
    this.vmcs = m.frames.alloc();
    m.mem.write32(this.vmxon, VMCS_REVISION_ID);
    m.mem.write32(this.vmcs, VMCS_REVISION_ID);
    this.hostEntry = boot.native('vmx-harness-exit', (c) => {
      const reason = c.vmx.vmread(F.VM_EXIT_REASON);
      this.exits.push(reason);
      if (this.onExit(c, reason)) c.vmx.vmresume();
      else c.stop();
    });
  }

  /** Executes VMXON, VMCLEAR, VMPTRLD and writes the VMCS, in VMX root at CPL 0. */
  setup(): void {
    const cpu = this.cpu;
    const v = cpu.vmx;
    cpu.cr4 |= CR4_VMXE;
    v.vmxon(this.vmxon);
    v.vmclear(this.vmcs);
    v.vmptrld(this.vmcs);
    const w = (f: F, x: number): void => v.vmwrite(f, x);
    const vpid = this.opts.vpid ?? 1;
    w(F.PIN_BASED_VM_EXEC_CONTROL, PIN_EXTERNAL_INTERRUPT_EXITING);
    w(F.CPU_BASED_VM_EXEC_CONTROL, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_MSR_BITMAPS);
    w(F.SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_INVPCID | (vpid !== 0 ? SECONDARY_ENABLE_VPID : 0));
    w(F.VIRTUAL_PROCESSOR_ID, vpid);
    w(F.EPT_POINTER, this.ept.root | EPTP_MT_WB | EPTP_WALK_LENGTH_4 | (this.opts.eptAd ? EPTP_AD_ENABLE : 0));
    w(F.MSR_BITMAP, this.boot.machine.frames.alloc()); // all zero: no MSR exits
    w(F.EXCEPTION_BITMAP, this.opts.exceptionBitmap ?? 0);
    w(F.VM_EXIT_CONTROLS, EXIT_HOST_ADDR_SPACE_SIZE);
    w(F.VM_ENTRY_CONTROLS, ENTRY_IA32E_MODE);
    w(F.CR0_GUEST_HOST_MASK, 0);
    w(F.CR4_GUEST_HOST_MASK, 0);
    // Host state: the CPU's current state.
    writeHostState(w, cpu, this.hostEntry);
    w(F.HOST_CR3, cpu.cr3);
    w(F.HOST_RSP, cpu.rsp);
    // Guest state: 64-bit, same descriptor tables; the caller sets CR3/RIP/RSP in launch().
    writeGuestStateLikeHost(w, cpu);
  }

  /** Writes the guest entry state and executes VMLAUNCH (from a host native, as a VMM would). */
  launch(guestCr3: number, rip: number, rsp: number, cpl: 0 | 3 = 0): void {
    const v = this.cpu.vmx;
    v.vmwrite(F.GUEST_CR3, guestCr3);
    v.vmwrite(F.GUEST_RIP, rip);
    v.vmwrite(F.GUEST_RSP, rsp);
    v.vmwrite(F.GUEST_CS_SELECTOR, cpl === 3 ? GD_UT : GD_KT);
    v.vmwrite(F.GUEST_SS_SELECTOR, cpl === 3 ? GD_UD : GD_KD);
    v.vmwrite(F.GUEST_SS_AR_BYTES, 0xc093 | (cpl << 5));
    v.vmwrite(F.GUEST_CS_AR_BYTES, 0xa09b | (cpl << 5));
    const entry = this.boot.native('vmx-harness-launch', (c) => c.vmx.vmlaunch());
    this.cpu.rip = entry;
  }
}
