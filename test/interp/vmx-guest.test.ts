/**
 * The interpreter inside a VMX guest: VM exits raised in the middle of an instruction (an EPT
 * violation on a store) or by an instruction (CPUID) must save the guest RFLAGS of the
 * instruction boundary — the interpreter's lazy flags written back — and GUEST_RIP of the
 * instruction; after VMRESUME the instruction restarts and the flags are intact.
 */
import { describe, expect, it } from 'vitest';
import { EPT_R, EPT_W, EPT_X, RFLAGS_CF, Vector } from '../../core/vtx/arch.js';
import { RDX } from '../../core/vtx/cpu.js';
import { installInterpreter } from '../../core/vtx/interp/interpreter.js';
import { eptLeafFlags } from '../../core/vtx/page-tables.js';
import { INTR_INFO_VALID, INTR_TYPE_SOFT_EXCEPTION, VmExitReason, VmcsField as F } from '../../core/vtx/vmcs-field.js';
import { rig, trapOn } from '../vtx/helpers.js';
import { VmxRig } from '../vtx/vmx-rig.js';
import { hex } from './harness.js';

function guestCode(r: ReturnType<typeof rig>, code: string): number {
  const pa = r.m.frames.alloc();
  const bytes = hex(code);
  r.m.mem.writeBytes(pa, bytes);
  const stop = r.m.natives.register('guest-end', (c) => c.stop());
  r.m.natives.install(r.m.mem, pa + bytes.length, stop);
  return pa;
}

describe('interpreted code in a VMX guest', () => {
  it('an EPT violation on a store saves the flags of the previous instruction and restarts the store', () => {
    const r = rig();
    installInterpreter(r.m);
    const data = r.m.frames.alloc();
    // cmp eax, ebx ; mov [rcx], eax ; setb dl
    const at = guestCode(r, '39d8 8901 0f92c2');
    const vmm = new VmxRig(r);
    vmm.ept.unmap(data);
    let savedFlags = -1;
    let savedRip = -1;
    vmm.onExit = (c, e) => {
      if (e.reason !== VmExitReason.EptViolation) return false;
      savedFlags = c.vmx.vmread(F.GUEST_RFLAGS);
      savedRip = e.guestRip;
      vmm.ept.map(data, data, eptLeafFlags(EPT_R | EPT_W | EPT_X));
      return true;
    };
    r.cpu.setReg(0, 1);
    r.cpu.setReg(3, 2);
    r.cpu.setReg(1, data + 16);
    // The guest starts with the registers the host left (VM entry does not load GPRs).
    vmm.launch(at);
    expect(vmm.exits.map((e) => [e.reason, e.guestRip - at])).toEqual([[VmExitReason.EptViolation, 2]]);
    expect(savedRip).toBe(at + 2);
    expect(savedFlags & RFLAGS_CF).toBe(RFLAGS_CF); // 1 - 2 borrows
    expect(r.m.mem.read32(data + 16)).toBe(1);
    expect(r.cpu.lo[RDX]! & 0xff).toBe(1);
  });

  it('CPUID exits with the flags of the instruction before it', () => {
    const r = rig();
    installInterpreter(r.m);
    // cmp eax, ebx ; cpuid ; setb dl
    const at = guestCode(r, '39d8 0fa2 0f92c2');
    const vmm = new VmxRig(r);
    let savedFlags = -1;
    vmm.onExit = (c, e) => {
      if (e.reason !== VmExitReason.Cpuid) return false;
      savedFlags = c.vmx.vmread(F.GUEST_RFLAGS);
      expect(e.instrLen).toBe(2);
      VmxRig.skip(c);
      return true;
    };
    r.cpu.setReg(0, 1);
    r.cpu.setReg(3, 2);
    vmm.launch(at);
    expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.Cpuid]);
    expect(savedFlags & RFLAGS_CF).toBe(RFLAGS_CF);
    expect(r.cpu.lo[RDX]! & 0xff).toBe(1);
  });
});

describe('INT3 against the exception bitmap (SDM Vol. 3C §25.2, §28.2.2, §28.2.4)', () => {
  it('INT3 (CC) with bit 3 set exits as a software exception (type 6, vector 3) with RIP on the INT3 and length 1; the VMM steps over it', () => {
    const r = rig();
    installInterpreter(r.m);
    const bps = trapOn(r, Vector.Breakpoint);
    // mov eax, 7 ; int3 ; inc eax
    const at = guestCode(r, 'b807000000 cc ffc0');
    const vmm = new VmxRig(r, { exceptionBitmap: 1 << Vector.Breakpoint });
    vmm.onExit = (c, e) => {
      if (e.reason !== VmExitReason.ExceptionOrNmi) return false;
      VmxRig.skip(c);
      return true;
    };
    vmm.launch(at);
    expect(bps).toEqual([]);
    expect(vmm.exits.map((e) => [e.reason, e.intrInfo, e.guestRip - at, e.instrLen])).toEqual([
      [VmExitReason.ExceptionOrNmi, (INTR_INFO_VALID | INTR_TYPE_SOFT_EXCEPTION | Vector.Breakpoint) >>> 0, 5, 1],
    ]);
    expect(vmm.exits[0]!.intrInfo).toBe(0x8000_0603);
    expect(r.cpu.lo[0]).toBe(8); // resumed after the INT3
  });

  it('INT3 with bit 3 clear is delivered through the guest IDT, the frame holding the address after it (a trap)', () => {
    const r = rig();
    installInterpreter(r.m);
    const bps = trapOn(r, Vector.Breakpoint);
    const at = guestCode(r, '90 cc');
    const vmm = new VmxRig(r, { exceptionBitmap: 0 });
    vmm.launch(at);
    expect(vmm.exits).toEqual([]);
    expect(bps.map((t) => t.rip - at)).toEqual([2]);
  });

  it('INT 3 (CD 03) is a software interrupt, not an exception: the bitmap does not apply', () => {
    const r = rig();
    installInterpreter(r.m);
    const bps = trapOn(r, Vector.Breakpoint);
    const at = guestCode(r, 'cd03');
    const vmm = new VmxRig(r, { exceptionBitmap: 1 << Vector.Breakpoint });
    vmm.launch(at);
    expect(vmm.exits).toEqual([]);
    expect(bps.map((t) => t.rip - at)).toEqual([2]);
  });
});
