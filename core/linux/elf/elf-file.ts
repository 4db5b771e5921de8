/**
 * A small ELF64 reader for the guest loader: parses the ELF header, the program headers and (when
 * present and well formed) the section headers of a little-endian x86-64 executable, and checks
 * everything the loader relies on. Anything it cannot load is rejected with an {@link ElfError}
 * whose message says exactly what is wrong. Only static executables are accepted: ET_EXEC, or
 * ET_DYN without PT_INTERP (static-pie). Names follow the System V gABI and <elf.h>.
 *
 * Addresses and sizes are JS numbers: every value the loader uses is validated to lie below 2^47
 * (or within the file), so it is exact.
 */

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

// ---- Constants (gABI / <elf.h>) --------------------------------------------------------
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const EM_386 = 3;
export const EM_X86_64 = 62;

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;

/** e_phnum value meaning "the real count is in section header 0's sh_info". */
export const PN_XNUM = 0xffff;
export const ELF64_EHDR_SIZE = 64;
export const ELF64_PHDR_SIZE = 56;
export const ELF64_SHDR_SIZE = 64;
/** The page size the loader maps with; p_vaddr and p_offset must agree modulo it. */
export const ELF_PAGE_SIZE = 4096;
/** Largest p_memsz accepted (1 TiB) and the end of the lower canonical half (user space). */
export const MAX_SEGMENT_SIZE = 2 ** 40;
export const USER_ADDRESS_LIMIT = 2 ** 47;

const MACHINE_NAMES: Record<number, string> = {
  0: 'EM_NONE', 2: 'EM_SPARC', 3: 'EM_386', 4: 'EM_68K', 8: 'EM_MIPS', 20: 'EM_PPC', 21: 'EM_PPC64',
  22: 'EM_S390', 40: 'EM_ARM', 43: 'EM_SPARCV9', 50: 'EM_IA_64', 62: 'EM_X86_64', 183: 'EM_AARCH64',
  243: 'EM_RISCV', 258: 'EM_LOONGARCH',
};
const TYPE_NAMES: Record<number, string> = { 0: 'ET_NONE', 1: 'ET_REL', 2: 'ET_EXEC', 3: 'ET_DYN', 4: 'ET_CORE' };

export interface ElfHeader {
  type: number;
  machine: number;
  version: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  /** The real program header count (PN_XNUM already resolved). */
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  osabi: number;
}

export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface SectionHeader {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface LoadSegment {
  vaddr: number;
  memsz: number;
  filesz: number;
  offset: number;
  /** PF_R | PF_W | PF_X bits. */
  flags: number;
}

export interface LoadInfo {
  segments: LoadSegment[];
  /** ET_DYN without PT_INTERP: must be relocated to a load base chosen by the loader. */
  staticPie: boolean;
  entry: number;
}

const hex = (n: number): string => '0x' + n.toString(16);

/** Exact below 2^53; above, approximate, which is still enough to fail every range check. */
function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 2 ** 32;
}

export class ElfFile {
  readonly header: ElfHeader;
  readonly programHeaders: ProgramHeader[];
  /** Empty when the file has no section header table or it is malformed (it is not needed to load). */
  readonly sectionHeaders: SectionHeader[];

  private constructor(readonly bytes: Uint8Array) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.header = parseHeader(bytes, dv);
    this.programHeaders = parseProgramHeaders(bytes, dv, this.header);
    this.sectionHeaders = parseSectionHeaders(bytes, dv, this.header);
    validate(this);
  }

  /** Parses and validates; throws ElfError if the file is not a loadable static x86-64 executable. */
  static parse(bytes: Uint8Array): ElfFile {
    return new ElfFile(bytes);
  }

  get entry(): number {
    return this.header.entry;
  }

  /** ET_DYN without PT_INTERP (dynamically linked files are rejected by parse). */
  get isStaticPie(): boolean {
    return this.header.type === ET_DYN;
  }

  loadSegments(): LoadSegment[] {
    return this.programHeaders
      .filter((p) => p.type === PT_LOAD)
      .map(({ vaddr, memsz, filesz, offset, flags }) => ({ vaddr, memsz, filesz, offset, flags }));
  }

  findProgramHeader(type: number): ProgramHeader | undefined {
    return this.programHeaders.find((p) => p.type === type);
  }

  /** The file bytes of a segment (p_filesz of them); a view, not a copy. */
  segmentData(seg: { offset: number; filesz: number }): Uint8Array {
    return this.bytes.subarray(seg.offset, seg.offset + seg.filesz);
  }

  /**
   * Link-time address of the program header table, for AT_PHDR (add the load base for a PIE):
   * PT_PHDR's p_vaddr, else where a PT_LOAD maps e_phoff; undefined if the table is not mapped.
   */
  get phdrVaddr(): number | undefined {
    const ph = this.findProgramHeader(PT_PHDR);
    if (ph) return ph.vaddr;
    const { phoff } = this.header;
    const seg = this.loadSegments().find((s) => phoff >= s.offset && phoff < s.offset + s.filesz);
    return seg ? seg.vaddr + (phoff - seg.offset) : undefined;
  }

  /** Page-aligned [low, high) link-time span of all PT_LOAD segments. */
  get imageSpan(): { low: number; high: number } {
    const segs = this.loadSegments();
    const low = Math.min(...segs.map((s) => s.vaddr - (s.vaddr % ELF_PAGE_SIZE)));
    const high = Math.max(...segs.map((s) => Math.ceil((s.vaddr + s.memsz) / ELF_PAGE_SIZE) * ELF_PAGE_SIZE));
    return { low, high };
  }

  /** PT_GNU_STACK with PF_X, or no PT_GNU_STACK at all (the kernel's default on x86-64). */
  get wantsExecutableStack(): boolean {
    const st = this.findProgramHeader(PT_GNU_STACK);
    return st ? (st.flags & PF_X) !== 0 : true;
  }
}

/** Parses and validates `bytes`, returning what a loader needs. Throws ElfError. */
export function loadableSegments(bytes: Uint8Array | ElfFile): LoadInfo {
  const elf = bytes instanceof ElfFile ? bytes : ElfFile.parse(bytes);
  return { segments: elf.loadSegments(), staticPie: elf.isStaticPie, entry: elf.entry };
}

export function machineName(m: number): string {
  return MACHINE_NAMES[m] ?? `unknown machine ${m}`;
}

function parseHeader(b: Uint8Array, dv: DataView): ElfHeader {
  if (b.length < 4 || ELFMAG.some((m, i) => b[i] !== m)) {
    const got = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new ElfError(`not an ELF file: bad magic [${got}] (expected 7f 45 4c 46, "\\x7fELF")`);
  }
  if (b.length < 16) throw new ElfError(`truncated ELF header: file is ${b.length} bytes, e_ident needs 16`);
  if (b[4] !== ELFCLASS64) {
    const what = b[4] === ELFCLASS32 ? 'ELFCLASS32 (a 32-bit file)' : `invalid class ${b[4]}`;
    throw new ElfError(`not ELFCLASS64: EI_CLASS is ${what}`);
  }
  if (b[5] !== ELFDATA2LSB) {
    const what = b[5] === ELFDATA2MSB ? 'ELFDATA2MSB (big-endian)' : `invalid data encoding ${b[5]}`;
    throw new ElfError(`not little-endian: EI_DATA is ${what}`);
  }
  if (b[6] !== EV_CURRENT) throw new ElfError(`unsupported ELF version: EI_VERSION is ${b[6]}, expected 1`);
  if (b.length < ELF64_EHDR_SIZE) {
    throw new ElfError(`truncated ELF header: file is ${b.length} bytes, the ELF64 header needs ${ELF64_EHDR_SIZE}`);
  }
  const h: ElfHeader = {
    type: dv.getUint16(16, true),
    machine: dv.getUint16(18, true),
    version: dv.getUint32(20, true),
    entry: u64(dv, 24),
    phoff: u64(dv, 32),
    shoff: u64(dv, 40),
    flags: dv.getUint32(48, true),
    ehsize: dv.getUint16(52, true),
    phentsize: dv.getUint16(54, true),
    phnum: dv.getUint16(56, true),
    shentsize: dv.getUint16(58, true),
    shnum: dv.getUint16(60, true),
    shstrndx: dv.getUint16(62, true),
    osabi: b[7]!,
  };
  if (h.machine !== EM_X86_64) {
    throw new ElfError(`not EM_X86_64: e_machine is ${h.machine} (${machineName(h.machine)})`);
  }
  if (h.type !== ET_EXEC && h.type !== ET_DYN) {
    const name = TYPE_NAMES[h.type] ?? `unknown type ${h.type}`;
    throw new ElfError(`not an executable: e_type is ${name}, expected ET_EXEC or ET_DYN`);
  }
  if (h.phnum === PN_XNUM) {
    // Extended numbering: the count lives in sh_info of section header 0.
    if (h.shoff + ELF64_SHDR_SIZE > b.length) {
      throw new ElfError(`truncated section header 0 (needed for e_phnum = PN_XNUM) at ${hex(h.shoff)}`);
    }
    h.phnum = dv.getUint32(h.shoff + 44, true);
  }
  return h;
}

function parseProgramHeaders(b: Uint8Array, dv: DataView, h: ElfHeader): ProgramHeader[] {
  if (h.phnum === 0) throw new ElfError('no program headers (e_phnum is 0): nothing to load');
  if (h.phentsize !== ELF64_PHDR_SIZE) {
    throw new ElfError(`bad e_phentsize ${h.phentsize}: ELF64 program headers are ${ELF64_PHDR_SIZE} bytes`);
  }
  const end = h.phoff + h.phnum * ELF64_PHDR_SIZE;
  if (end > b.length) {
    throw new ElfError(
      `truncated program header table: ${h.phnum} entries at e_phoff ${hex(h.phoff)} end at ${hex(end)}, ` +
        `past the end of the file (${b.length} bytes)`,
    );
  }
  const phs: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = h.phoff + i * ELF64_PHDR_SIZE;
    phs.push({
      index: i,
      type: dv.getUint32(o, true),
      flags: dv.getUint32(o + 4, true),
      offset: u64(dv, o + 8),
      vaddr: u64(dv, o + 16),
      paddr: u64(dv, o + 24),
      filesz: u64(dv, o + 32),
      memsz: u64(dv, o + 40),
      align: u64(dv, o + 48),
    });
  }
  return phs;
}

function parseSectionHeaders(b: Uint8Array, dv: DataView, h: ElfHeader): SectionHeader[] {
  if (h.shoff === 0 || h.shnum === 0 || h.shentsize !== ELF64_SHDR_SIZE) return [];
  if (h.shoff + h.shnum * ELF64_SHDR_SIZE > b.length) return [];
  const raw = [];
  for (let i = 0; i < h.shnum; i++) {
    const o = h.shoff + i * ELF64_SHDR_SIZE;
    raw.push({
      nameOff: dv.getUint32(o, true),
      name: '',
      type: dv.getUint32(o + 4, true),
      flags: u64(dv, o + 8),
      addr: u64(dv, o + 16),
      offset: u64(dv, o + 24),
      size: u64(dv, o + 32),
      link: dv.getUint32(o + 40, true),
      info: dv.getUint32(o + 44, true),
      addralign: u64(dv, o + 48),
      entsize: u64(dv, o + 56),
    });
  }
  const strtab = raw[h.shstrndx];
  const strOk = strtab !== undefined && strtab.type === SHT_STRTAB && strtab.offset + strtab.size <= b.length;
  return raw.map(({ nameOff, ...s }) => ({
    ...s,
    name: strOk && nameOff < strtab.size ? cString(b, strtab.offset + nameOff, strtab.offset + strtab.size) : '',
  }));
}

function cString(b: Uint8Array, start: number, end: number): string {
  let e = start;
  while (e < end && b[e] !== 0) e++;
  return new TextDecoder().decode(b.subarray(start, e));
}

function validate(elf: ElfFile): void {
  const { bytes: b, header: h } = elf;
  const interp = elf.findProgramHeader(PT_INTERP);
  if (interp) {
    const inFile = interp.offset + interp.filesz <= b.length;
    const path = inFile ? cString(b, interp.offset, interp.offset + interp.filesz) : '<outside the file>';
    throw new ElfError(`not supported: dynamically linked (PT_INTERP ${path})`);
  }
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) throw new ElfError('no PT_LOAD segments: nothing to load');
  for (const p of loads) {
    const what = `PT_LOAD segment #${p.index} (p_vaddr ${hex(p.vaddr)})`;
    if (p.offset + p.filesz > b.length) {
      throw new ElfError(
        `${what}: file range ${hex(p.offset)}..${hex(p.offset + p.filesz)} lies outside the file (${b.length} bytes)`,
      );
    }
    if (p.filesz > p.memsz) {
      throw new ElfError(`${what}: p_filesz ${hex(p.filesz)} is larger than p_memsz ${hex(p.memsz)}`);
    }
    if (p.memsz > MAX_SEGMENT_SIZE) {
      throw new ElfError(`${what}: absurd p_memsz ${hex(p.memsz)} (more than 2^40 bytes)`);
    }
    if (p.vaddr + p.memsz > USER_ADDRESS_LIMIT) {
      throw new ElfError(
        `${what}: p_vaddr + p_memsz = ${hex(p.vaddr + p.memsz)} wraps past 2^47, the end of user address space`,
      );
    }
    if ((p.vaddr - p.offset) % ELF_PAGE_SIZE !== 0) {
      throw new ElfError(
        `${what}: p_vaddr ${hex(p.vaddr)} and p_offset ${hex(p.offset)} differ modulo the page size ` +
          `(${hex(p.vaddr % ELF_PAGE_SIZE)} vs ${hex(p.offset % ELF_PAGE_SIZE)}), so it cannot be mapped`,
      );
    }
  }
  // Byte ranges may share a page (the loader merges permissions) but must not overlap.
  const sorted = loads.filter((p) => p.memsz > 0).sort((a, c) => a.vaddr - c.vaddr);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.vaddr < prev.vaddr + prev.memsz) {
      throw new ElfError(
        `overlapping PT_LOAD segments: #${prev.index} (${hex(prev.vaddr)}..${hex(prev.vaddr + prev.memsz)}) ` +
          `and #${cur.index} (${hex(cur.vaddr)}..${hex(cur.vaddr + cur.memsz)})`,
      );
    }
  }
  const inExec = loads.some((p) => (p.flags & PF_X) !== 0 && h.entry >= p.vaddr && h.entry < p.vaddr + p.memsz);
  if (!inExec) {
    throw new ElfError(`entry point ${hex(h.entry)} is outside every executable (PF_X) PT_LOAD segment`);
  }
}
