/**
 * SYSCALL and SYSRET as the Intel SDM Vol. 2B defines them (64-bit mode, SYSRET with REX.W), and
 * the MSRs they use (Vol. 4: IA32_STAR C000_0081H, IA32_LSTAR C000_0082H, IA32_FMASK C000_0084H).
 */
import { describe, expect, it } from 'vitest';
import {
  EFER_SCE, GD_KD, GD_KT, GD_UD, GD_UT, MSR_EFER, MSR_FMASK, MSR_LSTAR, MSR_STAR, RFLAGS_AC, RFLAGS_CF, RFLAGS_DF,
  RFLAGS_FIXED, RFLAGS_IF, RFLAGS_IOPL, RFLAGS_NT, RFLAGS_RF, RFLAGS_TF, RFLAGS_VM, RFLAGS_ZF, Vector,
} from '../../core/vtx/arch.js';
import { Cpu, R11, RCX, RSP } from '../../core/vtx/cpu.js';
import { Rig, enterUser, exec, kernelProgram, rig, run, trapOn, userProgram, userStack } from './helpers.js';

const USER_CODE = 0x7000_0000;
const USER_STACK = 0x7010_0000;
/** Linux's layout: STAR[47:32] = kernel CS, STAR[63:48] = the 32-bit user CS (0x23). */
const STAR_HI = (0x23 << 16) | GD_KT;
/** Linux's SYSCALL mask: TF, DF, IF, IOPL, AC, NT. */
const FMASK = RFLAGS_TF | RFLAGS_DF | RFLAGS_IF | RFLAGS_IOPL | RFLAGS_AC | RFLAGS_NT;

interface Regs {
  rip: number;
  rcx: number;
  r11: number;
  rflags: number;
  cs: number;
  ss: number;
  cpl: number;
  rsp: number;
}
const regs = (c: Cpu): Regs => ({
  rip: c.rip, rcx: c.reg(RCX), r11: c.reg(R11), rflags: c.rflags, cs: c.cs, ss: c.ss, cpl: c.cpl, rsp: c.rsp,
});

/** A machine whose kernel entry (LSTAR) is `entry`. */
function withEntry(entry: (r: Rig) => (c: Cpu) => void): { r: Rig; lstar: number } {
  const r = rig();
  const lstar = r.boot.native('lstar', entry(r));
  exec(r, (c) => {
    c.wrmsr(MSR_STAR, 0, STAR_HI);
    c.wrmsr(MSR_LSTAR, lstar, 0);
    c.wrmsr(MSR_FMASK, FMASK, 0);
  });
  return { r, lstar };
}

describe('SYSCALL (SDM Vol. 2B)', () => {
  it('saves the next RIP in RCX and RFLAGS in R11, masks RFLAGS with FMASK, loads CS/SS from STAR[47:32], jumps to LSTAR at CPL 0', () => {
    let k: Regs | undefined;
    const { r, lstar } = withEntry(() => (c) => {
      k = regs(c);
      c.stop();
    });
    const userFlags = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_CF | RFLAGS_DF | RFLAGS_AC;
    const rsp = userStack(r, USER_STACK) - 0x48;
    const at = userProgram(r, USER_CODE).add((c) => c.syscall());
    enterUser(r.cpu, rsp, userFlags);
    run(r, at);
    expect(k).toEqual({
      rip: lstar,
      rcx: at + 7,
      r11: userFlags,
      rflags: (userFlags & ~FMASK) >>> 0,
      cs: GD_KT,
      ss: GD_KT + 8,
      cpl: 0,
      rsp, // SYSCALL does not switch stacks
    });
    expect(k!.rflags).toBe(RFLAGS_FIXED | RFLAGS_CF);
    expect(r.m.stats.get('cpu0.syscalls')).toBe(1);
  });

  it('with EFER.SCE=0 raises #UD (no error code) and does not reach LSTAR', () => {
    let entered = false;
    const { r } = withEntry(() => () => {
      entered = true;
    });
    exec(r, (c) => c.wrmsr(MSR_EFER, c.efer & ~EFER_SCE, 0));
    const uds = trapOn(r, Vector.InvalidOpcode);
    const at = userProgram(r, USER_CODE).add((c) => c.syscall());
    enterUser(r.cpu, userStack(r, USER_STACK));
    run(r, at);
    expect(entered).toBe(false);
    expect(uds).toHaveLength(1);
    expect(uds[0]!.errorCode).toBeUndefined();
    expect([uds[0]!.rip, uds[0]!.cs]).toEqual([at, GD_UT]);
  });
});

describe('SYSRET (SDM Vol. 2B)', () => {
  it('returns to CPL 3 at RCX with CS = STAR[63:48]+16 | 3, SS = STAR[63:48]+8 | 3, RFLAGS = (R11 & 3C7FD7H) | 2', () => {
    let u: Regs | undefined;
    const r = rig();
    exec(r, (c) => c.wrmsr(MSR_STAR, 0, STAR_HI));
    const target = userProgram(r, USER_CODE).add((c) => {
      u = regs(c);
      c.stop();
    });
    const r11 = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_ZF | RFLAGS_RF | RFLAGS_VM | 0x8 | 0x8000;
    const at = kernelProgram(r).add((c) => {
      c.setReg(RCX, target);
      c.setReg(R11, r11);
      c.sysret();
    });
    run(r, at);
    expect(u!.rip).toBe(target);
    expect(u!.cs).toBe((0x23 + 16) | 3);
    expect(u!.cs).toBe(GD_UT);
    expect(u!.ss).toBe((0x23 + 8) | 3);
    expect(u!.ss).toBe(GD_UD);
    expect(u!.cpl).toBe(3);
    expect(u!.rflags).toBe(((r11 & 0x3c_7fd7) | 2) >>> 0);
    expect(u!.rflags).toBe(RFLAGS_FIXED | RFLAGS_IF | RFLAGS_ZF);
  });

  it('a SYSCALL/SYSRET round trip resumes at the instruction after SYSCALL with RFLAGS restored', () => {
    const { r } = withEntry(() => (c) => c.sysret());
    const userFlags = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_CF;
    let after: Regs | undefined;
    const p = userProgram(r, USER_CODE);
    const at = p.add((c) => c.syscall());
    const next = p.add((c) => {
      after = regs(c);
      c.stop();
    });
    const rsp = userStack(r, USER_STACK) - 0x10;
    enterUser(r.cpu, rsp, userFlags);
    run(r, at);
    expect(next).toBe(at + 7);
    expect(after).toMatchObject({ rip: next, cpl: 3, cs: GD_UT, ss: GD_UD, rflags: userFlags, rsp });
  });

  it('with a non-canonical RCX raises #GP(0) in ring 0 (Intel; the CPL never becomes 3)', () => {
    const r = rig();
    exec(r, (c) => c.wrmsr(MSR_STAR, 0, STAR_HI));
    const gps = trapOn(r, Vector.GeneralProtection);
    const at = kernelProgram(r).add((c) => {
      c.setReg(RCX, 2 ** 47);
      c.setReg(R11, RFLAGS_FIXED);
      c.sysret();
    });
    const rsp = r.boot.kernelStackTop - 0x100;
    r.cpu.setReg(RSP, rsp);
    run(r, at);
    expect(gps).toHaveLength(1);
    const t = gps[0]!;
    expect(t.errorCode).toBe(0);
    expect([t.rip, t.cs, t.ss, t.rsp]).toEqual([at, GD_KT, GD_KD, rsp]);
    expect(t.cpl).toBe(0);
  });

  it('at CPL 3 raises #GP(0)', () => {
    const r = rig();
    const gps = trapOn(r, Vector.GeneralProtection);
    const at = userProgram(r, USER_CODE).add((c) => c.sysret());
    enterUser(r.cpu, userStack(r, USER_STACK));
    run(r, at);
    expect(gps.map((t) => [t.errorCode, t.cs])).toEqual([[0, GD_UT]]);
  });

  it('with EFER.SCE=0 raises #UD', () => {
    const r = rig();
    exec(r, (c) => c.wrmsr(MSR_EFER, c.efer & ~EFER_SCE, 0));
    const uds = trapOn(r, Vector.InvalidOpcode);
    run(r, kernelProgram(r).add((c) => c.sysret()));
    expect(uds).toHaveLength(1);
  });
});

describe('SYSCALL MSRs (SDM Vol. 4)', () => {
  it('STAR, LSTAR and FMASK read back what was written; a non-canonical LSTAR is #GP(0)', () => {
    const r = rig();
    const got = exec(r, (c) => {
      c.wrmsr(MSR_STAR, 0x1234, STAR_HI);
      c.wrmsr(MSR_LSTAR, 0xffff_f000, 0xffff_8000); // a canonical upper-half address
      c.wrmsr(MSR_FMASK, FMASK, 0);
      const star = [c.rdmsr(MSR_STAR), c.msrHi];
      const lstar = [c.rdmsr(MSR_LSTAR), c.msrHi];
      const fmask = c.rdmsr(MSR_FMASK);
      return { star, lstar, fmask };
    });
    expect(got).toEqual({ star: [0x1234, STAR_HI], lstar: [0xffff_f000, 0xffff_8000], fmask: FMASK });
    const gps = trapOn(r, Vector.GeneralProtection);
    run(r, kernelProgram(r).add((c) => c.wrmsr(MSR_LSTAR, 0, 0x8000)));
    expect(gps.map((t) => t.errorCode)).toEqual([0]);
  });
});
