/**
 * SSE and x87 details the reference vectors do not reach: 16-byte alignment of packed memory
 * operands (#GP(0)), FXSAVE/FXRSTOR round trips, MXCSR rounding control, and a small float
 * computation end to end.
 */
import { describe, expect, it } from 'vitest';
import { Vector } from '../../core/vtx/arch.js';
import { USER_DATA, reg, runUser, setup, userData } from './harness.js';

describe('SSE details', () => {
  it('MOVDQA and packed arithmetic on a misaligned operand raise #GP(0); MOVDQU does not', () => {
    let env = setup();
    userData(env);
    runUser('660f6f4708', { rdi: USER_DATA }, undefined, env); // movdqa xmm0, [rdi+8]
    expect(env.traps.map((t) => [t.vector, t.errorCode])).toEqual([[Vector.GeneralProtection, 0]]);
    env = setup();
    userData(env);
    runUser('660fef4701', { rdi: USER_DATA }, undefined, env); // pxor xmm0, [rdi+1]
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.GeneralProtection]);
    env = setup();
    const pa = userData(env);
    for (let k = 0; k < 4; k++) env.m.mem.write32(pa + 8 + 4 * k, k + 1);
    runUser('f30f6f4708660ffec0', { rdi: USER_DATA }, undefined, env); // movdqu xmm0, [rdi+8]; paddd xmm0, xmm0
    expect(env.traps).toEqual([]);
    expect(Array.from(env.cpu.xmm.subarray(0, 4))).toEqual([2, 4, 6, 8]);
  });

  it('FXSAVE/FXRSTOR round-trip the x87 stack', () => {
    const env = setup();
    const pa = userData(env);
    // fld1; fldpi; fxsave [rdi]; fninit; fxrstor [rdi]; fstp qword [rdi+600]; fstp qword [rdi+608]
    runUser('d9e8d9eb0fae07dbe30fae0fdd9f58020000dd9f60020000', { rdi: USER_DATA }, undefined, env);
    expect(env.traps).toEqual([]);
    const f = new DataView(env.m.mem.buffer);
    expect(f.getFloat64(pa + 600, true)).toBe(Math.PI);
    expect(f.getFloat64(pa + 608, true)).toBe(1);
    expect(env.m.mem.read16(pa)).toBe(0x37f); // FCW in the image
  });

  it('LDMXCSR rounding control applies to CVTSD2SI', () => {
    const env = setup();
    const pa = userData(env);
    env.cpu.xmm[4] = 0;
    env.cpu.xmm[5] = 0x4004_0000; // xmm1 = 2.5
    // stmxcsr [rdi]; mov dword [rdi+4], 0x5f80 (RC = up); ldmxcsr [rdi+4]; cvtsd2si rax, xmm1; stmxcsr [rdi+8]
    runUser('0fae1fc74704805f00000fae5704f2480f2dc10fae5f08', { rdi: USER_DATA }, undefined, env);
    expect(env.m.mem.read32(pa)).toBe(0x1f80);
    expect(reg(env.cpu, 'rax')).toBe(3n);
    expect(env.m.mem.read32(pa + 8)).toBe(0x5f80);
  });

  it('a float computation: (float)π squared in double precision, truncated', () => {
    // mov eax, 0x40490fdb; movd xmm0, eax; cvtss2sd xmm1, xmm0; mulsd xmm1, xmm1; cvttsd2si rbx, xmm1
    const env = runUser('b8db0f4940660f6ec0f30f5ac8f20f59c9f2480f2cd9');
    expect(reg(env.cpu, 'rbx')).toBe(9n);
    const f64 = new Float64Array(env.cpu.xmm.buffer, 16, 1);
    expect(f64[0]).toBe(Math.fround(Math.PI) ** 2);
  });
});
