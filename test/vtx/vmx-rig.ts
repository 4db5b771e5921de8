/**
 * A minimal VMM for the VMX tests, built the way the SDM says software builds one (Vol. 3C
 * ch. 24–25, 31): a VMXON region and a VMCS region carrying the revision identifier, CR4.VMXE,
 * VMXON, VMCLEAR, VMPTRLD, VMWRITEs of the controls, host state and guest state, an EPT, and an
 * exit handler at HOST_RIP (a host native) that reads the exit information with VMREAD.
 *
 * The guest runs on the boot page tables (guest CR3 = the boot PML4), so guest-physical ==
 * host-physical through an identity EPT of 4 KiB leaves.
 */
import {
  CR4_VMXE, EPT_R, EPT_W, EPT_X, EPTP_AD_ENABLE, EPTP_MT_WB, EPTP_WALK_LENGTH_4, GD_KD, GD_KT, GD_UD, GD_UT,
  PAGE_SIZE, RFLAGS_CF, RFLAGS_ZF,
} from '../../core/vtx/arch.js';
import { Cpu } from '../../core/vtx/cpu.js';
import { PageTables, eptLeafFlags } from '../../core/vtx/page-tables.js';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, ENTRY_IA32E_MODE, EXIT_HOST_ADDR_SPACE_SIZE, SECONDARY_ENABLE_EPT,
  SECONDARY_ENABLE_INVPCID, SECONDARY_ENABLE_VPID, VmcsField as F,
} from '../../core/vtx/vmcs-field.js';
import { writeGuestStateLikeHost, writeHostState } from '../../core/vtx/vmcs-state.js';
import { Rig } from './helpers.js';

export interface ExitInfo {
  reason: number;
  qualification: number;
  gpa: number;
  gla: number;
  intrInfo: number;
  intrError: number;
  instrLen: number;
  guestRip: number;
}

export interface VmxRigOptions {
  /** VPID of the guest; 0 leaves "enable VPID" clear. Default 1. */
  vpid?: number;
  /** Leaf permissions of the identity EPT (default R|W|X). */
  eptPerm?: number;
  eptAd?: boolean;
  exceptionBitmap?: number;
  pfecMask?: number;
  pfecMatch?: number;
  /** Extra primary / secondary processor-based controls. */
  primary?: number;
  secondary?: number;
}

/** Fails unless the last VMX instruction ended in VMsucceed (CF = ZF = 0, SDM Vol. 3C §31.2). */
export function vmSucceeded(c: Cpu): boolean {
  return (c.rflags & (RFLAGS_CF | RFLAGS_ZF)) === 0;
}

export class VmxRig {
  readonly ept: PageTables;
  readonly vmxonRegion: number;
  readonly vmcsRegion: number;
  readonly guestStackTop: number;
  readonly hostEntry: number;
  readonly exits: ExitInfo[] = [];
  /**
   * Called for every exit; return true to VMRESUME, false to stop the CPU in the host (ignored
   * when the handler already entered the guest).
   */
  onExit: (c: Cpu, e: ExitInfo) => boolean = () => false;

  constructor(readonly r: Rig, readonly opts: VmxRigOptions = {}) {
    const { m, cpu, boot } = r;
    this.ept = new PageTables(m.mem, m.frames, true);
    const leaf = eptLeafFlags(opts.eptPerm ?? (EPT_R | EPT_W | EPT_X));
    for (let pa = 0; pa < m.mem.size; pa += PAGE_SIZE) this.ept.map(pa, pa, leaf);
    this.vmxonRegion = m.frames.alloc();
    this.vmcsRegion = m.frames.alloc();
    m.mem.write32(this.vmxonRegion, 0x11);
    m.mem.write32(this.vmcsRegion, 0x11);
    this.guestStackTop = m.frames.allocContiguous(2) + 2 * PAGE_SIZE;

    this.hostEntry = boot.native('vmm-exit', (c) => {
      const v = c.vmx;
      const e: ExitInfo = {
        reason: v.vmread(F.VM_EXIT_REASON),
        qualification: v.vmread(F.EXIT_QUALIFICATION),
        gpa: v.vmread(F.GUEST_PHYSICAL_ADDRESS),
        gla: v.vmread(F.GUEST_LINEAR_ADDRESS),
        intrInfo: v.vmread(F.VM_EXIT_INTR_INFO),
        intrError: v.vmread(F.VM_EXIT_INTR_ERROR_CODE),
        instrLen: v.vmread(F.VM_EXIT_INSTRUCTION_LEN),
        guestRip: v.vmread(F.GUEST_RIP),
      };
      this.exits.push(e);
      const resume = this.onExit(c, e);
      if (v.nonRoot) return; // the handler entered the guest itself (e.g. VMCLEAR + VMLAUNCH)
      if (resume) v.vmresume();
      else c.stop();
    });

    // VMXON and the VMCS, from VMX-root CPL 0 (SDM Vol. 3C §24.7, §24.11.3).
    cpu.cr4 |= CR4_VMXE;
    const v = cpu.vmx;
    const check = (what: string): void => {
      if (!vmSucceeded(cpu)) throw new Error(`${what} failed (rflags 0x${cpu.rflags.toString(16)})`);
    };
    v.vmxon(this.vmxonRegion);
    check('VMXON');
    v.vmclear(this.vmcsRegion);
    check('VMCLEAR');
    v.vmptrld(this.vmcsRegion);
    check('VMPTRLD');
    const w = (f: F, x: number): void => {
      v.vmwrite(f, x);
      check(`VMWRITE ${F[f]}`);
    };
    const vpid = opts.vpid ?? 1;
    w(F.PIN_BASED_VM_EXEC_CONTROL, 0);
    w(F.CPU_BASED_VM_EXEC_CONTROL, CPU_ACTIVATE_SECONDARY_CONTROLS | (opts.primary ?? 0));
    w(F.SECONDARY_VM_EXEC_CONTROL,
      SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_INVPCID | (vpid !== 0 ? SECONDARY_ENABLE_VPID : 0) | (opts.secondary ?? 0));
    w(F.VIRTUAL_PROCESSOR_ID, vpid);
    w(F.EPT_POINTER, this.ept.root | EPTP_MT_WB | EPTP_WALK_LENGTH_4 | (opts.eptAd ? EPTP_AD_ENABLE : 0));
    w(F.EXCEPTION_BITMAP, opts.exceptionBitmap ?? 0);
    w(F.PAGE_FAULT_ERROR_CODE_MASK, opts.pfecMask ?? 0);
    w(F.PAGE_FAULT_ERROR_CODE_MATCH, opts.pfecMatch ?? 0);
    w(F.VM_EXIT_CONTROLS, EXIT_HOST_ADDR_SPACE_SIZE);
    w(F.VM_ENTRY_CONTROLS, ENTRY_IA32E_MODE);
    // Host state (SDM Vol. 3C §25.5).
    writeHostState(w, cpu, this.hostEntry);
    w(F.HOST_CR3, cpu.cr3);
    w(F.HOST_RSP, boot.kernelStackTop);
    // Guest state (SDM Vol. 3C §25.4): 64-bit, paging on the boot tables, the boot IDT/GDT/TSS.
    writeGuestStateLikeHost(w, cpu);
    w(F.GUEST_CR3, boot.pt.root);
  }

  /** Sets the guest entry state and executes VMLAUNCH from a host native; runs until stopped. */
  launch(rip: number, opts: { cpl?: 0 | 3; rsp?: number } = {}): void {
    const { cpu } = this.r;
    const v = cpu.vmx;
    const cpl = opts.cpl ?? 0;
    v.vmwrite(F.GUEST_RIP, rip);
    v.vmwrite(F.GUEST_RSP, opts.rsp ?? this.guestStackTop);
    v.vmwrite(F.GUEST_CS_SELECTOR, cpl === 3 ? GD_UT : GD_KT);
    v.vmwrite(F.GUEST_SS_SELECTOR, cpl === 3 ? GD_UD : GD_KD);
    v.vmwrite(F.GUEST_CS_AR_BYTES, 0xa09b | (cpl << 5));
    v.vmwrite(F.GUEST_SS_AR_BYTES, 0xc093 | (cpl << 5));
    const at = this.r.boot.native('vmm-launch', (c) => {
      c.vmx.vmlaunch();
      if (!vmSucceeded(c)) throw new Error(`VMLAUNCH failed: error ${c.vmx.vmread(F.VM_INSTRUCTION_ERROR)}`);
    });
    cpu.stopped = false;
    cpu.rip = at;
    cpu.runUntil(cpu.cycles + 1e8);
    if (!cpu.stopped) throw new Error(`cpu did not stop: rip 0x${cpu.rip.toString(16)}`);
  }

  /** Executes VMRESUME from a host native (after an exit that stopped the CPU); runs until stopped. */
  resume(): void {
    const { cpu } = this.r;
    const at = this.r.boot.native('vmm-resume', (c) => {
      c.vmx.vmresume();
      if (!vmSucceeded(c)) throw new Error(`VMRESUME failed: error ${c.vmx.vmread(F.VM_INSTRUCTION_ERROR)}`);
    });
    cpu.stopped = false;
    cpu.rip = at;
    cpu.runUntil(cpu.cycles + 1e8);
    if (!cpu.stopped) throw new Error(`cpu did not stop: rip 0x${cpu.rip.toString(16)}`);
  }

  /** In an exit handler: moves GUEST_RIP past the instruction that exited (SDM Vol. 3C §28.2.4). */
  static skip(c: Cpu): void {
    const v = c.vmx;
    v.vmwrite(F.GUEST_RIP, v.vmread(F.GUEST_RIP) + v.vmread(F.VM_EXIT_INSTRUCTION_LEN));
  }
}
