/**
 * Instruction lengths against iced-x86 over a corpus: the code sections of the static guest
 * binaries (examples/guest/bin) and a set of hand-picked encodings (prefix combinations, SIB and
 * displacement forms, immediates of every kind). Every instruction the interpreter accepts must
 * decode to iced's length; the binaries' instructions must all be accepted.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Decoder, DecoderOptions, Mnemonic } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { ElfFile } from '../../core/linux/elf/elf-file.js';
import { ud } from '../../core/vtx/interp/system.js';
import { DIRECT_MAP, Env, hex, setup } from './harness.js';

const BIN = new URL('../../examples/guest/bin/', import.meta.url);

interface Outcome {
  checked: number;
  mismatches: string[];
  unsupported: Map<string, number>;
}

/** Decodes `code` with iced and with the interpreter (placed at physical `pa`), instruction by instruction. */
function compare(env: Env, code: Uint8Array, pa: number, out: Outcome): void {
  env.m.mem.writeBytes(pa, code);
  const dec = new Decoder(64, code, DecoderOptions.None);
  try {
    while (dec.canDecode) {
      const pos = dec.position;
      const ins = dec.decode();
      const len = ins.length;
      const mnemonic = Mnemonic[ins.mnemonic] ?? String(ins.mnemonic);
      const invalid = ins.isInvalid;
      ins.free();
      if (invalid) continue;
      const mine = env.it.decodeOnly(DIRECT_MAP + pa + pos);
      if (mine.fn === ud) {
        out.unsupported.set(mnemonic, (out.unsupported.get(mnemonic) ?? 0) + 1);
        continue;
      }
      out.checked++;
      if (mine.len !== len && out.mismatches.length < 50) {
        const bytes = Buffer.from(code.subarray(pos, pos + Math.max(len, mine.len))).toString('hex');
        out.mismatches.push(`${mnemonic} ${bytes}: iced ${len}, interp ${mine.len}`);
      }
    }
  } finally {
    dec.free();
  }
}

/** Hand-picked encodings (one per entry), mostly prefix / ModRM corner cases. */
const SNIPPETS = [
  '00d8', '6601d8', '664101d0', '4801d8', '4d01ec', '80c37f', '6681c03412', '4881c078563412', '4883c080',
  '8b0425efbeadde', '8b44240c', '8b842400010000', '8b048d00000000', '8b4c9d08', '8b05f0ffffff', '678b03',
  '64488b042528000000', '65488b0425f8ffffff', 'f3a4', 'f348ab', 'f2ae', 'f3a6', '66a5', '48a5',
  'a0efcdab8967452301', '48a3efcdab8967452301', '67a078563412', 'b012', '66b83412', 'b878563412',
  '48b8efcdab8967452301', '49bfefcdab8967452301', 'c6000f', '66c7003412', 'c70078563412', '48c700f8ffffff',
  'c8100001', 'c9', 'c3', 'c21000', 'e800000000', 'e9feffffff', 'ebfe', '74fe', '0f84faffffff',
  'e2fe', 'e3fe', '67e3fd', 'ff d0'.replace(' ', ''), 'ff10', 'ff6508', '41ff24c4', 'ff35f0ffffff',
  '50', '4150', '6650', '58', '6a80', '6880000000', '66687856', '8f00', '9c', '9d', '669c',
  '0fafc1', '480fafc1', '6bc07f', '69c078563412', '4869c078563412', 'f7e1', '48f7f1', 'f6f1', '66f7f9',
  'd3e0', 'd1f8', 'c1e805', '48c1e03f', 'd0c0', '0fa4c205', '480fadc2', '0fa3c8', '480fbae005', '0fbbc8',
  '0fbcc1', 'f30fbcc1', 'f3480fbdc1', 'f30fb8c1', '0fc8', '490fc9', '0fc1c8', 'f00fb10b', 'f0480fc70f',
  '0f38f003', '480f38f103', '0f1f440000', '660f1f840000000000', 'f30f1efa', 'f390', '90', '4190',
  '0f05', '480f07', 'cd80', 'cc', 'f4', '0fa2', '0f31', '0f01f9', '0f30', '0f32', '0f20d8', '0f22d8',
  '0f01f8', '0f01c1', '0f0138', '0f0110', '0f0118', '0f00d8', '660f388203', 'fa', 'fb', '48cf',
  'e480', 'ec', 'ef', '98', '4898', '99', '4899', '9e', '9f', 'f5', 'fc', 'fd', 'd7',
  '0f4fc1', '480f44c1', '0f94c0', '410f9fc1', '0f9503', '480fb6c0', '0fb7c0', '480fbec0', '4863c1',
  '8d0c8500000000', '488d0424', '488d6c2408', '8d4c3f01', '678d0c03', '488d05f9ffffff', '4c8d1c25e0ffffff',
  '0fae5c2404', '0fae542404', '0faef0', '0faee8', '0faef8', '0f18442440', '0f0d08',
];

describe('decoded lengths match iced-x86', () => {
  it('over hand-picked encodings', () => {
    const env = setup();
    const pa = env.m.frames.allocContiguous(2);
    const out: Outcome = { checked: 0, mismatches: [], unsupported: new Map() };
    for (const s of SNIPPETS) compare(env, hex(s), pa, out);
    expect(out.mismatches).toEqual([]);
    expect(out.checked).toBeGreaterThan(SNIPPETS.length - 5);
  });

  const bins = existsSync(BIN) ? readdirSync(BIN).filter((f) => !f.startsWith('.')) : [];
  it.runIf(bins.length > 0)(`over the code sections of ${bins.length} guest binaries`, () => {
    const env = setup(64 << 20);
    const out: Outcome = { checked: 0, mismatches: [], unsupported: new Map() };
    for (const f of bins) {
      const elf = ElfFile.parse(new Uint8Array(readFileSync(new URL(f, BIN))));
      for (const sh of elf.sectionHeaders) {
        if ((sh.flags & 0x4) === 0 || sh.size === 0) continue; // SHF_EXECINSTR
        const code = elf.bytes.subarray(sh.offset, sh.offset + sh.size);
        const pa = env.m.frames.allocContiguous(Math.ceil((code.length + 16) / 4096));
        compare(env, code, pa, out);
      }
    }
    expect(out.mismatches).toEqual([]);
    expect(out.checked).toBeGreaterThan(10_000);
    const unsupported = [...out.unsupported].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m}:${n}`);
    expect(unsupported, 'instructions of the guest binaries the interpreter does not execute').toEqual([]);
  });
});
