/**
 * SSE/SSE2 and x87 against the host CPU: vectors recorded by test/interp/gen-sse-vectors.py (one
 * instruction, or a short x87 sequence, run natively from a machine state in memory). Each runs
 * here in ring 3 with the same registers and memory; XMM0..2, RAX, RBX, RCX, the status flags and
 * the memory window must match bit for bit (NaN payloads included).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PTE_P, PTE_U, PTE_W } from '../../core/vtx/arch.js';
import { NATIVE_STUB_LENGTH } from '../../core/vtx/native-code.js';
import { enterUser, hex, runFrom, setup } from './harness.js';

interface Group {
  asm: string;
  bytes: string;
  kind: string;
  vectors: Array<[string, Array<[number, string]>, number]>;
}

const FIXTURE = new URL('./sse-vectors.json', import.meta.url);
const CODE = 0x40_0000;
const STATE = 0x60_0000;

describe.runIf(existsSync(FIXTURE))('SSE and x87 reference vectors (host CPU)', () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { groups: Group[] };

  const run = (groups: Group[]): void => {
    const env = setup();
    const { cpu, m, it: interp } = env;
    const codePa = env.boot.userPage(CODE, PTE_P | PTE_U | PTE_W);
    const statePa = env.boot.userPage(STATE, PTE_P | PTE_U | PTE_W);
    enterUser(env);
    const stop = m.natives.register('vector-end', (c) => c.stop(), 1, 3);
    const failures: string[] = [];
    const failed = new Map<string, number>();
    const mem = m.mem;
    for (const g of groups) {
      const code = hex(g.bytes);
      mem.writeBytes(codePa, code);
      m.natives.install(mem, codePa + code.length, stop);
      for (const [input, diff, flags] of g.vectors) {
        const [head, tail] = input.split(':');
        const st = new Uint8Array(196);
        st.set(hex(head!), 0);
        if (tail !== undefined) st.set(hex(tail), 128);
        else st[192] = 0x7f, st[193] = 0x03;
        const dv = new DataView(st.buffer);
        // Registers.
        for (let k = 0; k < 12; k++) cpu.xmm[k] = dv.getUint32(4 * k, true);
        for (let r = 0; r < 16; r++) cpu.setReg64(r, 0, 0);
        cpu.setReg64(0, dv.getUint32(48, true), dv.getUint32(52, true));
        cpu.setReg64(3, dv.getUint32(56, true), dv.getUint32(60, true));
        cpu.setReg64(1, dv.getUint32(64, true), dv.getUint32(68, true));
        cpu.setReg(15, STATE);
        cpu.setReg(4, 0x80_0000);
        cpu.rflags = dv.getUint32(72, true);
        cpu.mxcsr = dv.getUint32(88, true);
        interp.x87.init();
        interp.x87.fcw = dv.getUint16(192, true);
        mem.writeBytes(statePa + 128, st.subarray(128, 192));
        env.traps.length = 0;
        runFrom(env, CODE);
        // Expected state: the input with the changed ranges applied.
        const want = st.slice();
        for (const [off, bytes] of diff) want.set(hex(bytes), off);
        const got = st.slice();
        const gdv = new DataView(got.buffer);
        for (let k = 0; k < 12; k++) gdv.setUint32(4 * k, cpu.xmm[k]!, true);
        gdv.setUint32(48, cpu.lo[0]!, true);
        gdv.setUint32(52, cpu.hi[0]!, true);
        gdv.setUint32(56, cpu.lo[3]!, true);
        gdv.setUint32(60, cpu.hi[3]!, true);
        gdv.setUint32(64, cpu.lo[1]!, true);
        gdv.setUint32(68, cpu.hi[1]!, true);
        got.set(mem.readBytes(statePa + 128, 64), 128);
        const problems: string[] = [];
        if (env.traps.length > 0) problems.push(`trap ${env.traps[0]!.vector}`);
        else if (cpu.rip !== CODE + code.length + NATIVE_STUB_LENGTH) problems.push(`rip 0x${cpu.rip.toString(16)}`);
        const names: Array<[string, number, number]> = [
          ['xmm0', 0, 16], ['xmm1', 16, 32], ['xmm2', 32, 48], ['rax', 48, 56], ['rbx', 56, 64], ['rcx', 64, 72], ['mem', 128, 192],
        ];
        for (const [name, a, b] of names) {
          const gh = Buffer.from(got.subarray(a, b)).toString('hex');
          const wh = Buffer.from(want.subarray(a, b)).toString('hex');
          if (gh !== wh) problems.push(`${name} ${gh} want ${wh}`);
        }
        if ((cpu.rflags & 0x8d5) !== flags) problems.push(`flags 0x${(cpu.rflags & 0x8d5).toString(16)} want 0x${flags.toString(16)}`);
        if (problems.length > 0) {
          const n = failed.get(g.asm) ?? 0;
          failed.set(g.asm, n + 1);
          if (n < 2) failures.push(`${g.asm} in=${input}: ${problems.join(', ')}`);
        }
      }
    }
    const summary = [...failed].map(([a, n]) => `${a}: ${n}`).join('\n');
    expect(failures, `${failed.size} groups fail:\n${summary}`).toEqual([]);
  };
  const sse = doc.groups.filter((g) => g.kind !== 'x87');
  const x87 = doc.groups.filter((g) => g.kind === 'x87');
  it(`SSE/SSE2: ${sse.reduce((n, g) => n + g.vectors.length, 0)} vectors in ${sse.length} groups`, () => run(sse));
  it(`x87: ${x87.reduce((n, g) => n + g.vectors.length, 0)} vectors in ${x87.length} groups`, () => run(x87));
});
