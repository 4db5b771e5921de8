/**
 * Differential test against single-instruction reference vectors recorded from Unicorn (and the
 * host CPU), see scripts/gen-unicorn-vectors.py for the schema: every vector runs through the
 * interpreter in ring 3 with the code at `codeAddress` and a data page at `dataAddress`; all
 * sixteen GPRs, the defined flags (flagsMask) and the memory window must match.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPR_NAMES } from '../../core/vtx/cpu.js';
import { Env, enterUser, hex, runFrom, setup } from './harness.js';
import { PTE_P, PTE_U, PTE_W } from '../../core/vtx/arch.js';
import { NATIVE_STUB_LENGTH } from '../../core/vtx/native-code.js';
import { VECTOR_FILE, VectorFile } from '../fixtures/x86-vector-file.js';

const FIXTURE = VECTOR_FILE;

describe.runIf(existsSync(FIXTURE))('Unicorn reference vectors', () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as VectorFile;
  const codeVa = Number(doc.codeAddress);
  const dataVa = Number(doc.dataAddress);

  function prepare(): { env: Env; codePa: number; dataPa: number } {
    const env = setup();
    const codePa = env.boot.userPage(codeVa, PTE_P | PTE_U | PTE_W);
    const dataPa = env.boot.userPage(dataVa, PTE_P | PTE_U | PTE_W);
    enterUser(env);
    return { env, codePa, dataPa };
  }

  it(`matches all ${doc.vectors.length} vectors`, () => {
    const { env, codePa, dataPa } = prepare();
    const { cpu, m } = env;
    const stop = m.natives.register('vector-end', (c) => c.stop(), 1, 3);
    const failures: string[] = [];
    const failedAsm = new Map<string, number>();
    let ran = 0;
    for (const v of doc.vectors) {
      const code = hex(v.bytes);
      m.mem.writeBytes(codePa, code);
      m.natives.install(m.mem, codePa + code.length, stop);
      for (let r = 0; r < 16; r++) cpu.setReg64(r, 0, 0);
      for (const [name, val] of Object.entries(v.in)) {
        const b = BigInt(val);
        cpu.setReg64(GPR_NAMES.indexOf(name), Number(b & 0xffff_ffffn), Number(b >> 32n));
      }
      cpu.rflags = Number(v.rflagsIn);
      if (v.mem) m.mem.writeBytes(dataPa + (Number(v.mem.addr) - dataVa), hex(v.mem.before));
      env.traps.length = 0;
      runFrom(env, codeVa);
      ran++;
      const problems: string[] = [];
      if (env.traps.length > 0) problems.push(`trap ${env.traps[0]!.vector} at 0x${env.traps[0]!.rip.toString(16)}`);
      else if (cpu.rip !== codeVa + code.length + NATIVE_STUB_LENGTH) problems.push(`rip 0x${cpu.rip.toString(16)}`);
      for (let r = 0; r < 16; r++) {
        const name = GPR_NAMES[r]!;
        if (v.undefRegs?.includes(name)) continue;
        const want = BigInt(v.out[name] ?? '0');
        const got = cpu.regBig(r);
        if (got !== want) problems.push(`${name}=0x${got.toString(16)} want 0x${want.toString(16)}`);
      }
      const mask = Number(v.flagsMask);
      const gotF = cpu.rflags & mask;
      const wantF = Number(v.rflagsOut) & mask;
      if (gotF !== wantF) problems.push(`flags 0x${gotF.toString(16)} want 0x${wantF.toString(16)} (mask 0x${mask.toString(16)})`);
      if (v.mem) {
        const after = hex(v.mem.after);
        const got = m.mem.readBytes(dataPa + (Number(v.mem.addr) - dataVa), after.length);
        if (Buffer.compare(Buffer.from(got), Buffer.from(after)) !== 0) problems.push('memory differs');
      }
      if (problems.length > 0) {
        const n = failedAsm.get(v.asm) ?? 0;
        failedAsm.set(v.asm, n + 1);
        if (n < 2) failures.push(`${v.asm} [${v.bytes}] in=${JSON.stringify(v.in)} f=${v.rflagsIn}: ${problems.join(', ')}`);
      }
    }
    expect(ran).toBe(doc.vectors.length);
    const summary = [...failedAsm].map(([a, n]) => `${a}: ${n}`).join('\n');
    expect(failures, `${failedAsm.size} instruction forms fail:\n${summary}`).toEqual([]);
  });
});
