/**
 * VMX operation as the Intel SDM Vol. 3C defines it: VMX instructions and their VMfail results
 * (ch. 31, §31.4 error numbers), VM exits with basic exit reasons (Appendix C) and the exit
 * information fields (§28.2), the exception bitmap with the #PF error-code mask/match rule
 * (§25.6.3), and VPID-tagged linear mappings (§29.4: VPIDs, INVVPID).
 */
import { describe, expect, it } from 'vitest';
import { CR4_VMXE, FEC_W, RFLAGS_CF, RFLAGS_ZF, Vector } from '../../core/vtx/arch.js';
import { Cpu, RAX, RBX } from '../../core/vtx/cpu.js';
import {
  CPU_INVLPG_EXITING, INTR_INFO_DELIVER_CODE, INTR_INFO_VALID, INTR_TYPE_HARD_EXCEPTION, VM_EXIT_REASON_ENTRY_FAILURE, VmExitReason,
  VmcsField as F,
} from '../../core/vtx/vmcs-field.js';
import { FRESH, Rig, exec, kernelProgram, misses, rig, trapOn, userProgram, userStack } from './helpers.js';
import { VmxRig, VmxRigOptions } from './vmx-rig.js';

const MISSING = FRESH + 0x44_4000;

describe('VMX instructions (SDM Vol. 3C ch. 31)', () => {
  it('VMXON with CR4.VMXE=0 raises #UD', () => {
    const r = rig();
    const uds = trapOn(r, Vector.InvalidOpcode);
    const region = r.m.frames.alloc();
    r.m.mem.write32(region, 0x11);
    exec(r, (c) => expect(c.cr4 & CR4_VMXE).toBe(0));
    const p = kernelProgram(r);
    r.cpu.rip = p.add((c) => c.vmx.vmxon(region));
    r.cpu.stopped = false;
    r.cpu.runUntil(r.cpu.cycles + 1e6);
    expect(uds).toHaveLength(1);
    expect(r.cpu.vmx.on).toBe(false);
  });

  it('VMXON with a wrong revision identifier fails with VMfailInvalid (CF=1)', () => {
    const r = rig();
    const region = r.m.frames.alloc();
    r.m.mem.write32(region, 0x12);
    const flags = exec(r, (c) => {
      c.cr4 |= CR4_VMXE;
      c.vmx.vmxon(region);
      return c.rflags & (RFLAGS_CF | RFLAGS_ZF);
    });
    expect(flags).toBe(RFLAGS_CF);
    expect(r.cpu.vmx.on).toBe(false);
  });

  it('VMRESUME of a VMCS that was never launched fails with VMfailValid, error 5', () => {
    const r = rig();
    new VmxRig(r);
    const got = exec(r, (c) => {
      c.vmx.vmresume();
      return { flags: c.rflags & (RFLAGS_CF | RFLAGS_ZF), error: c.vmx.vmread(F.VM_INSTRUCTION_ERROR), nonRoot: c.vmx.nonRoot };
    });
    expect(got).toEqual({ flags: RFLAGS_ZF, error: 5, nonRoot: false });
  });

  it('VMLAUNCH of a launched VMCS without VMCLEAR fails with VMfailValid, error 4; after VMCLEAR + VMPTRLD it launches', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const results: Array<{ flags: number; error: number }> = [];
    let relaunched = 0;
    vmm.onExit = (c, e) => {
      if (e.reason !== VmExitReason.Vmcall) return false;
      if (results.length === 0) {
        c.vmx.vmlaunch();
        results.push({ flags: c.rflags & (RFLAGS_CF | RFLAGS_ZF), error: c.vmx.vmread(F.VM_INSTRUCTION_ERROR) });
        VmxRig.skip(c);
        c.vmx.vmclear(vmm.vmcsRegion);
        c.vmx.vmptrld(vmm.vmcsRegion);
        c.vmx.vmlaunch(); // the launch state is clear again
        results.push({ flags: c.rflags & (RFLAGS_CF | RFLAGS_ZF), error: 0 });
      }
      return false;
    };
    const p = kernelProgram(r);
    const at = p.add((c) => c.vmcall());
    p.add((c) => {
      relaunched++;
      c.stop();
    });
    vmm.launch(at);
    expect(results).toEqual([{ flags: RFLAGS_ZF, error: 4 }, { flags: 0, error: 0 }]);
    expect(relaunched).toBe(1);
  });

  it('VM entry with invalid guest state (RFLAGS bit 1 clear) fails with exit reason 33 | bit 31 (SDM §27.8)', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    r.cpu.vmx.vmwrite(F.GUEST_RFLAGS, 0);
    let ran = false;
    vmm.launch(kernelProgram(r).add(() => {
      ran = true;
    }));
    expect(ran).toBe(false);
    expect(vmm.exits.map((e) => e.reason)).toEqual([(VM_EXIT_REASON_ENTRY_FAILURE | VmExitReason.EntryFailInvalidGuestState) >>> 0]);
  });
});

describe('VM exits for instructions (SDM Vol. 3C §26.1.2, §28.2.4, Appendix C)', () => {
  it('VMCALL exits with basic reason 18 and instruction length 7 (the native stub); resuming past it continues the guest', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    vmm.onExit = (c) => {
      VmxRig.skip(c);
      return true;
    };
    const p = kernelProgram(r);
    const at = p.add((c) => c.vmcall());
    let after: { nonRoot: boolean; rip: number } | undefined;
    const next = p.add((c) => {
      after = { nonRoot: c.vmx.nonRoot, rip: c.rip };
      c.stop();
    });
    vmm.launch(at);
    expect(vmm.exits).toHaveLength(1);
    const e = vmm.exits[0]!;
    expect(e.reason).toBe(VmExitReason.Vmcall);
    expect(e.instrLen).toBe(7);
    expect(e.guestRip).toBe(at);
    expect(after).toEqual({ nonRoot: true, rip: next });
    expect(r.m.stats.get('cpu0.vmx.exits.Vmcall')).toBe(1);
    expect(r.m.stats.get('cpu0.vmx.entries')).toBe(2);
  });

  it('VMCALL exits from guest CPL 3 too', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const at = userProgram(r, 0x7000_0000).add((c) => c.vmcall());
    vmm.launch(at, { cpl: 3, rsp: userStack(r, 0x7010_0000) });
    expect(vmm.exits.map((e) => [e.reason, e.instrLen])).toEqual([[VmExitReason.Vmcall, 7]]);
  });

  it('CPUID exits with basic reason 10; the VMM\'s answer is what the guest sees', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    vmm.onExit = (c) => {
      c.setReg(RAX, 0xabcd);
      c.setReg(RBX, 0x1234);
      VmxRig.skip(c);
      return true;
    };
    const p = kernelProgram(r);
    const at = p.add((c) => {
      c.setReg(RAX, 0);
      c.cpuid();
    });
    let seen: number[] = [];
    p.add((c) => {
      seen = [c.reg(RAX), c.reg(RBX)];
      c.stop();
    });
    vmm.launch(at);
    expect(vmm.exits.map((e) => [e.reason, e.instrLen])).toEqual([[VmExitReason.Cpuid, 7]]);
    expect(seen).toEqual([0xabcd, 0x1234]);
  });

  it('INVPCID with "INVLPG exiting" exits at guest CPL 0 (reason 58) but raises #GP(0) at CPL 3: privilege faults take priority over VM exits (§26.1.1)', () => {
    const r0 = rig();
    const vmm0 = new VmxRig(r0, { primary: CPU_INVLPG_EXITING });
    vmm0.launch(kernelProgram(r0).add((c) => c.invpcid(3, 0, 0)));
    expect(vmm0.exits.map((e) => [e.reason, e.instrLen])).toEqual([[VmExitReason.Invpcid, 7]]);

    const r3 = rig();
    const vmm3 = new VmxRig(r3, { primary: CPU_INVLPG_EXITING });
    const gps = trapOn(r3, Vector.GeneralProtection);
    const at = userProgram(r3, 0x7000_0000).add((c) => c.invpcid(3, 0, 0));
    vmm3.launch(at, { cpl: 3, rsp: userStack(r3, 0x7010_0000) });
    expect(vmm3.exits).toEqual([]);
    expect(gps.map((t) => [t.errorCode, t.rip])).toEqual([[0, at]]);
  });

  it('INVLPG with "INVLPG exiting" exits with reason 14 and the linear address as qualification', () => {
    const r = rig();
    const vmm = new VmxRig(r, { primary: CPU_INVLPG_EXITING });
    vmm.launch(kernelProgram(r).add((c) => c.invlpg(FRESH + 0x1234)));
    expect(vmm.exits.map((e) => [e.reason, e.qualification, e.instrLen])).toEqual([[VmExitReason.Invlpg, FRESH + 0x1234, 7]]);
  });

  it('a VMX instruction in the guest exits (VMREAD → reason 23)', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    vmm.launch(kernelProgram(r).add((c) => c.vmx.vmread(F.GUEST_RIP)));
    expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.Vmread]);
  });
});

describe('exception bitmap and #PF error-code mask/match (SDM Vol. 3C §25.6.3, §28.2.2)', () => {
  it('with bit 14 set a guest #PF exits: reason 0, interruption info valid | type 3 | vector 14 | error code valid, qualification = address, CR2 unchanged', () => {
    const r = rig();
    const vmm = new VmxRig(r, { exceptionBitmap: 1 << Vector.PageFault });
    const pfs = trapOn(r, Vector.PageFault);
    r.cpu.cr2 = 0x5151;
    const at = kernelProgram(r).add((c) => c.mmu.write8(MISSING + 3, 1));
    vmm.launch(at);
    expect(pfs).toEqual([]);
    expect(vmm.exits).toHaveLength(1);
    const e = vmm.exits[0]!;
    expect(e.reason).toBe(VmExitReason.ExceptionOrNmi);
    expect(e.intrInfo).toBe((INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | Vector.PageFault | INTR_INFO_DELIVER_CODE) >>> 0);
    expect(e.intrInfo).toBe(0x8000_0b0e);
    expect(e.intrError).toBe(FEC_W);
    expect(e.qualification).toBe(MISSING + 3);
    expect(e.guestRip).toBe(at);
    expect(r.cpu.cr2).toBe(0x5151);
  });

  it('with bit 14 clear the #PF goes through the guest IDT, with CR2 and no exit', () => {
    const r = rig();
    const vmm = new VmxRig(r, { exceptionBitmap: 0 });
    const pfs = trapOn(r, Vector.PageFault);
    vmm.launch(kernelProgram(r).add((c) => c.mmu.read8(MISSING)));
    expect(vmm.exits).toEqual([]);
    expect(pfs).toHaveLength(1);
    expect(pfs[0]!.cr2).toBe(MISSING);
    expect(r.cpu.vmx.nonRoot).toBe(true);
  });

  // PFEC_MASK = PFEC_MATCH = W: a write fault matches, a read fault does not. A matching #PF
  // exits iff bit 14 is 1; a non-matching one exits iff bit 14 is 0.
  it.each([
    ['bit 14 = 1, matching (write) → exit', 1, true, true],
    ['bit 14 = 1, not matching (read) → guest', 1, false, false],
    ['bit 14 = 0, matching (write) → guest', 0, true, false],
    ['bit 14 = 0, not matching (read) → exit', 0, false, true],
  ])('%s', (_n, bit, write, exits) => {
    const r = rig();
    const opts: VmxRigOptions = { exceptionBitmap: bit << Vector.PageFault, pfecMask: FEC_W, pfecMatch: FEC_W };
    const vmm = new VmxRig(r, opts);
    const pfs = trapOn(r, Vector.PageFault);
    vmm.launch(kernelProgram(r).add((c: Cpu) => (write ? c.mmu.write8(MISSING, 1) : c.mmu.read8(MISSING))));
    expect(vmm.exits.map((e) => e.reason)).toEqual(exits ? [VmExitReason.ExceptionOrNmi] : []);
    expect(pfs).toHaveLength(exits ? 0 : 1);
  });

  it('the bitmap routes other vectors too: #UD with bit 6 exits with type 3 and no error code', () => {
    const r = rig();
    const vmm = new VmxRig(r, { exceptionBitmap: 1 << Vector.InvalidOpcode });
    vmm.launch(kernelProgram(r).add((c) => c.ud()));
    expect(vmm.exits.map((e) => [e.reason, e.intrInfo])).toEqual([
      [VmExitReason.ExceptionOrNmi, (INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | Vector.InvalidOpcode) >>> 0],
    ]);
  });
});

describe('VPID-tagged TLB entries (SDM Vol. 3C §29.4.1–§29.4.3, Vol. 3A §4.11.1)', () => {
  const PAGES = Array.from({ length: 6 }, (_, i) => FRESH + i * 0x1000);

  /**
   * The guest touches PAGES, exits by VMCALL, is resumed (after `atExit` ran in the host) and
   * touches them again. Returns the guest's TLB misses before and after the round trip.
   */
  const roundTrip = (opts: VmxRigOptions, atExit: (c: Cpu) => void = () => undefined): { first: number; second: number; r: Rig } => {
    const r = rig();
    for (const va of PAGES) r.boot.userPage(va);
    const vmm = new VmxRig(r, opts);
    vmm.onExit = (c, e) => {
      if (e.reason !== VmExitReason.Vmcall || vmm.exits.length > 1) return false;
      atExit(c);
      VmxRig.skip(c);
      return true;
    };
    const counts: number[] = [];
    const touch = (c: Cpu): void => {
      const before = r.m.stats.get('cpu0.tlb.misses');
      for (const va of PAGES) c.mmu.read64(va);
      counts.push(r.m.stats.get('cpu0.tlb.misses') - before);
    };
    const p = kernelProgram(r);
    const at = p.add(touch);
    p.add((c) => c.vmcall());
    p.add(touch);
    p.add((c) => c.vmcall());
    vmm.launch(at);
    expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.Vmcall, VmExitReason.Vmcall]);
    return { first: counts[0]!, second: counts[1]!, r };
  };

  it('with VPID enabled, guest entries survive a VM exit and VM entry (no new misses)', () => {
    const { first, second } = roundTrip({ vpid: 7 });
    expect(first).toBe(PAGES.length);
    expect(second).toBe(0);
  });

  it('with VPID disabled, VM exit and entry flush them (every access misses again)', () => {
    const { first, second } = roundTrip({ vpid: 0 });
    expect(first).toBe(PAGES.length);
    expect(second).toBe(PAGES.length);
  });

  it('INVVPID single-context (type 1) in the VMM removes the guest\'s entries', () => {
    const { second } = roundTrip({ vpid: 7 }, (c) => c.vmx.invvpid(1, 7, 0));
    expect(second).toBe(PAGES.length);
  });

  it('INVVPID single-context for another VPID leaves them', () => {
    const { second } = roundTrip({ vpid: 7 }, (c) => c.vmx.invvpid(1, 8, 0));
    expect(second).toBe(0);
  });

  it('INVVPID individual-address (type 0) removes one page', () => {
    const { second } = roundTrip({ vpid: 7 }, (c) => c.vmx.invvpid(0, 7, PAGES[2]!));
    expect(second).toBe(1);
  });

  it('the host\'s own (VPID 0) entries survive a guest run when the guest has a VPID, not when it has none', () => {
    for (const [vpid, expected] of [[5, 0], [0, PAGES.length]] as const) {
      const r = rig();
      for (const va of PAGES) r.boot.userPage(va);
      const hostTouch = (c: Cpu): void => {
        for (const va of PAGES) c.mmu.read64(va);
      };
      expect(misses(r, hostTouch)).toBe(PAGES.length);
      const vmm = new VmxRig(r, { vpid });
      vmm.launch(kernelProgram(r).add((c) => c.vmcall()));
      expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.Vmcall]);
      expect(misses(r, hostTouch)).toBe(expected);
    }
  });
});
