import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  ElfError,
  ElfFile,
  loadableSegments,
  ET_DYN,
  ET_EXEC,
  EM_X86_64,
  PF_R,
  PF_W,
  PF_X,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  PN_XNUM,
  SHT_NOBITS,
} from '../../core/linux/elf/elf-file.js';

const BIN_DIR = fileURLToPath(new URL('../../examples/guest/bin/', import.meta.url));
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(join(BIN_DIR, name)));

// Offsets of ELF64 header and program header fields.
const E_TYPE = 16, E_MACHINE = 18, E_ENTRY = 24, E_PHOFF = 32, E_SHOFF = 40, E_PHENTSIZE = 54, E_PHNUM = 56;
const P_TYPE = 0, P_FLAGS = 4, P_OFFSET = 8, P_VADDR = 16, P_FILESZ = 32, P_MEMSZ = 40;

/** A mutable copy of a real binary with helpers to poke header fields. */
class Patch {
  readonly b: Uint8Array;
  readonly dv: DataView;
  constructor(name = 'hello', extra = 0) {
    const orig = load(name);
    this.b = new Uint8Array(orig.length + extra);
    this.b.set(orig);
    this.dv = new DataView(this.b.buffer);
  }
  u16(off: number, v: number): this {
    this.dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(off, v, true);
    return this;
  }
  u64(off: number, v: number | bigint): this {
    this.dv.setBigUint64(off, BigInt(v), true);
    return this;
  }
  get64(off: number): number {
    return Number(this.dv.getBigUint64(off, true));
  }
  /** Byte offset of program header `i`. */
  ph(i: number): number {
    return this.get64(E_PHOFF) + i * 56;
  }
  /** Index of the first program header of `type` (and, optionally, with all of `flags`). */
  find(type: number, flags = 0): number {
    const n = this.dv.getUint16(E_PHNUM, true);
    for (let i = 0; i < n; i++) {
      const o = this.ph(i);
      if (this.dv.getUint32(o + P_TYPE, true) === type && (this.dv.getUint32(o + P_FLAGS, true) & flags) === flags) {
        return i;
      }
    }
    throw new Error(`no program header of type ${type}`);
  }
  parse(): ElfFile {
    return ElfFile.parse(this.b);
  }
}

function expectElfError(bytes: Uint8Array, message: string | RegExp): void {
  let err: unknown;
  try {
    ElfFile.parse(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ElfError);
  expect((err as Error).name).toBe('ElfError');
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

describe('ElfFile on the real guest binaries', () => {
  const names = readdirSync(BIN_DIR).sort();

  it('finds the committed binaries', () => {
    expect(names).toEqual(
      expect.arrayContaining(['hello', 'hello-pie', 'doubles', 'strings', 'qsort', 'malloc', 'fileio', 'args']),
    );
    expect(names.length).toBeGreaterThanOrEqual(13);
  });

  it.each(names)('%s parses and is internally consistent', (name) => {
    const elf = ElfFile.parse(load(name));
    expect(elf.header.machine).toBe(EM_X86_64);
    expect(elf.header.type).toBe(name === 'hello-pie' ? ET_DYN : ET_EXEC);
    expect(elf.isStaticPie).toBe(name === 'hello-pie');
    const segs = elf.loadSegments();
    expect(segs.length).toBeGreaterThanOrEqual(2);
    const exec = segs.filter((s) => s.flags & PF_X);
    expect(exec.some((s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + s.filesz)).toBe(true);
    expect(segs.some((s) => s.flags & PF_W)).toBe(true);
    for (const s of segs) {
      expect(s.filesz).toBeLessThanOrEqual(s.memsz);
      expect((s.vaddr - s.offset) % 4096).toBe(0);
      expect(elf.segmentData(s).length).toBe(s.filesz);
    }
    // Section headers were parsed and every allocated section lies in a PT_LOAD segment.
    const text = elf.sectionHeaders.find((s) => s.name === '.text');
    expect(text).toBeDefined();
    expect(exec.some((s) => text!.addr >= s.vaddr && text!.addr + text!.size <= s.vaddr + s.memsz)).toBe(true);
    const bss = elf.sectionHeaders.find((s) => s.name === '.bss');
    if (bss) expect(bss.type).toBe(SHT_NOBITS);
    expect(elf.wantsExecutableStack).toBe(false);
  });

  it('hello: exact layout (static, ET_EXEC at 0x400000)', () => {
    const info = loadableSegments(load('hello'));
    expect(info.staticPie).toBe(false);
    expect(info.entry).toBe(0x4011ce);
    expect(info.segments).toEqual([
      { vaddr: 0x400000, memsz: 0x190, filesz: 0x190, offset: 0, flags: PF_R },
      { vaddr: 0x401000, memsz: 0x3d37, filesz: 0x3d37, offset: 0x1000, flags: PF_R | PF_X },
      { vaddr: 0x405000, memsz: 0xd84, filesz: 0xd84, offset: 0x5000, flags: PF_R },
      { vaddr: 0x406fc0, memsz: 0x7f8, filesz: 0x150, offset: 0x5fc0, flags: PF_R | PF_W },
    ]);
    const elf = ElfFile.parse(load('hello'));
    expect(elf.phdrVaddr).toBe(0x400040); // no PT_PHDR: found through the PT_LOAD mapping offset 0
    expect(elf.header.phnum).toBe(6);
    expect(elf.imageSpan).toEqual({ low: 0x400000, high: 0x408000 });
  });

  it('hello-pie: static-pie, linked at 0', () => {
    const info = loadableSegments(load('hello-pie'));
    expect(info.staticPie).toBe(true);
    expect(info.entry).toBe(0x11ee);
    expect(info.segments[0]).toEqual({ vaddr: 0, memsz: 0x320, filesz: 0x320, offset: 0, flags: PF_R });
    expect(info.segments.map((s) => s.flags)).toEqual([PF_R, PF_R | PF_X, PF_R, PF_R | PF_W]);
    expect(ElfFile.parse(load('hello-pie')).imageSpan.low).toBe(0);
  });

  it('accepts an ElfFile in loadableSegments', () => {
    const elf = ElfFile.parse(load('sieve'));
    expect(loadableSegments(elf).segments).toEqual(elf.loadSegments());
  });

  it('resolves extended program header numbering (e_phnum = PN_XNUM)', () => {
    const p = new Patch();
    const shoff = p.get64(E_SHOFF);
    p.u16(E_PHNUM, PN_XNUM).u32(shoff + 44, 6); // section 0's sh_info holds the real count
    expect(p.parse().header.phnum).toBe(6);
  });
});

describe('ElfFile rejects broken or unsupported files', () => {
  it('not an ELF: bad magic', () => {
    const p = new Patch();
    p.b[1] = 0x46;
    expectElfError(p.b, 'not an ELF file: bad magic [7f 46 4c 46] (expected 7f 45 4c 46, "\\x7fELF")');
    expectElfError(new TextEncoder().encode('#!/bin/sh\necho hi\n'), /^not an ELF file: bad magic \[23 21 2f 62\]/);
    expectElfError(new Uint8Array(0), /^not an ELF file: bad magic \[\]/);
  });

  it('not ELFCLASS64', () => {
    const p = new Patch();
    p.b[4] = 1;
    expectElfError(p.b, 'not ELFCLASS64: EI_CLASS is ELFCLASS32 (a 32-bit file)');
    p.b[4] = 7;
    expectElfError(p.b, 'not ELFCLASS64: EI_CLASS is invalid class 7');
  });

  it('not little-endian', () => {
    const p = new Patch();
    p.b[5] = 2;
    expectElfError(p.b, 'not little-endian: EI_DATA is ELFDATA2MSB (big-endian)');
  });

  it('bad EI_VERSION', () => {
    const p = new Patch();
    p.b[6] = 0;
    expectElfError(p.b, 'unsupported ELF version: EI_VERSION is 0, expected 1');
  });

  it('not EM_X86_64, naming the machine', () => {
    expectElfError(new Patch().u16(E_MACHINE, 3).b, 'not EM_X86_64: e_machine is 3 (EM_386)');
    expectElfError(new Patch().u16(E_MACHINE, 183).b, 'not EM_X86_64: e_machine is 183 (EM_AARCH64)');
    expectElfError(new Patch().u16(E_MACHINE, 9999).b, 'not EM_X86_64: e_machine is 9999 (unknown machine 9999)');
  });

  it('not ET_EXEC or ET_DYN', () => {
    expectElfError(new Patch().u16(E_TYPE, 1).b, 'not an executable: e_type is ET_REL, expected ET_EXEC or ET_DYN');
    expectElfError(new Patch().u16(E_TYPE, 4).b, 'not an executable: e_type is ET_CORE, expected ET_EXEC or ET_DYN');
  });

  it('truncated ELF header', () => {
    const b = load('hello');
    expectElfError(b.slice(0, 40), 'truncated ELF header: file is 40 bytes, the ELF64 header needs 64');
    expectElfError(b.slice(0, 10), 'truncated ELF header: file is 10 bytes, e_ident needs 16');
  });

  it('truncated program header table', () => {
    const b = load('hello');
    expectElfError(
      b.slice(0, 64 + 56 * 2),
      'truncated program header table: 6 entries at e_phoff 0x40 end at 0x190, past the end of the file (176 bytes)',
    );
    expectElfError(new Patch().u64(E_PHOFF, 2n ** 62n).b, /^truncated program header table: 6 entries at e_phoff 0x4/);
  });

  it('no program headers or a bad e_phentsize', () => {
    expectElfError(new Patch().u16(E_PHNUM, 0).b, 'no program headers (e_phnum is 0): nothing to load');
    expectElfError(new Patch().u16(E_PHENTSIZE, 32).b, 'bad e_phentsize 32: ELF64 program headers are 56 bytes');
  });

  it('no PT_LOAD at all', () => {
    const p = new Patch();
    for (let i = 0; i < 6; i++) if (p.dv.getUint32(p.ph(i), true) === PT_LOAD) p.u32(p.ph(i), PT_GNU_STACK);
    expectElfError(p.b, 'no PT_LOAD segments: nothing to load');
  });

  it('PT_LOAD file range outside the file', () => {
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_X);
    const o = p.ph(i);
    p.u64(o + P_FILESZ, p.b.length).u64(o + P_MEMSZ, p.b.length);
    expectElfError(
      p.b,
      `PT_LOAD segment #${i} (p_vaddr 0x401000): file range 0x1000..0x${(0x1000 + p.b.length).toString(16)} ` +
        `lies outside the file (${p.b.length} bytes)`,
    );
    // An offset so large it would not even be exact as a double is still caught.
    const q = new Patch();
    q.u64(q.ph(i) + P_OFFSET, 0xffff_ffff_ffff_f000n);
    expectElfError(q.b, /^PT_LOAD segment #1 \(p_vaddr 0x401000\): file range .* lies outside the file/);
  });

  it('p_filesz > p_memsz', () => {
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_W);
    p.u64(p.ph(i) + P_MEMSZ, 0x100);
    expectElfError(p.b, `PT_LOAD segment #${i} (p_vaddr 0x406fc0): p_filesz 0x150 is larger than p_memsz 0x100`);
  });

  it('absurd p_memsz', () => {
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_W);
    p.u64(p.ph(i) + P_MEMSZ, 2n ** 41n);
    expectElfError(p.b, `PT_LOAD segment #${i} (p_vaddr 0x406fc0): absurd p_memsz 0x20000000000 (more than 2^40 bytes)`);
    const q = new Patch();
    q.u64(q.ph(i) + P_MEMSZ, 0xffff_ffff_ffff_fff0n);
    expectElfError(q.b, /^PT_LOAD segment #3 \(p_vaddr 0x406fc0\): absurd p_memsz/);
  });

  it('segment wrapping past 2^47', () => {
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_W);
    p.u64(p.ph(i) + P_VADDR, 2 ** 47 - 0x1000 + 0xfc0);
    expectElfError(
      p.b,
      `PT_LOAD segment #${i} (p_vaddr 0x7fffffffffc0): p_vaddr + p_memsz = 0x8000000007b8 wraps past 2^47, ` +
        'the end of user address space',
    );
    // A kernel-half address (what a 64-bit wrap-around looks like) is rejected too.
    const q = new Patch();
    q.u64(q.ph(i) + P_VADDR, 0xffff_ffff_ffff_ffc0n);
    expectElfError(q.b, /^PT_LOAD segment #3 \(p_vaddr 0x10000000000000000\): p_vaddr \+ p_memsz = .* wraps past 2\^47/);
  });

  it('overlapping PT_LOAD segments', () => {
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_W);
    p.u64(p.ph(i) + P_VADDR, 0x404fc0); // runs into the .rodata segment 0x405000..0x405d84
    expectElfError(p.b, 'overlapping PT_LOAD segments: #3 (0x404fc0..0x4057b8) and #2 (0x405000..0x405d84)');
  });

  it('misaligned p_vaddr vs p_offset', () => {
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_W);
    p.u64(p.ph(i) + P_VADDR, 0x406fc8);
    expectElfError(
      p.b,
      `PT_LOAD segment #${i} (p_vaddr 0x406fc8): p_vaddr 0x406fc8 and p_offset 0x5fc0 differ modulo the page size ` +
        '(0xfc8 vs 0xfc0), so it cannot be mapped',
    );
  });

  it('entry point outside every executable segment', () => {
    expectElfError(
      new Patch().u64(E_ENTRY, 0x10).b,
      'entry point 0x10 is outside every executable (PF_X) PT_LOAD segment',
    );
    // Inside a PT_LOAD, but a non-executable one (.rodata).
    expectElfError(
      new Patch().u64(E_ENTRY, 0x405010).b,
      'entry point 0x405010 is outside every executable (PF_X) PT_LOAD segment',
    );
    // The text segment made non-executable.
    const p = new Patch();
    const i = p.find(PT_LOAD, PF_X);
    p.u32(p.ph(i) + P_FLAGS, PF_R);
    expectElfError(p.b, 'entry point 0x4011ce is outside every executable (PF_X) PT_LOAD segment');
  });

  it('dynamically linked: PT_INTERP', () => {
    const interp = '/lib/ld-musl-x86_64.so.1';
    const p = new Patch('hello', interp.length + 1);
    const at = p.b.length - (interp.length + 1);
    p.b.set(new TextEncoder().encode(interp), at); // NUL already there
    const i = p.find(PT_GNU_STACK);
    p.u32(p.ph(i) + P_TYPE, PT_INTERP).u64(p.ph(i) + P_OFFSET, at).u64(p.ph(i) + P_FILESZ, interp.length + 1);
    expectElfError(p.b, 'not supported: dynamically linked (PT_INTERP /lib/ld-musl-x86_64.so.1)');
  });

  it.runIf(existsSync('/bin/true'))('dynamically linked: a real host binary', () => {
    const b = new Uint8Array(readFileSync('/bin/true'));
    expectElfError(b, /^not supported: dynamically linked \(PT_INTERP \/.*ld-linux-x86-64\.so\.2\)$/);
  });
});
