import { PAGE_SIZE } from '../vtx/arch.js';
import { ElfFile, PF_R, PF_W, PF_X } from './elf/elf-file.js';
import type { Kernel } from './kernel.js';
import { INITIAL_STACK_SIZE, MAP_ANONYMOUS, MAP_GROWSDOWN, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_TOP } from './linux-abi.js';
import { Process } from './task.js';
import { Vma } from './vma.js';

/** Where a static PIE is loaded (ELF_ET_DYN_BASE without randomisation on x86-64). */
export const PIE_BASE = 0x5555_5555_4000;

/** Auxiliary-vector keys (include/uapi/linux/auxvec.h). */
export const AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
  AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_HWCAP = 16,
  AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_EXECFN = 31;

export interface ImageInfo {
  entry: number;
  /** RSP at the entry point: pointing at argc. */
  sp: number;
  /** Load bias (0 for ET_EXEC). */
  base: number;
}

const pageDown = (x: number): number => x - (x % PAGE_SIZE);
const pageUp = (x: number): number => Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;

/**
 * binfmt_elf for static executables: maps each PT_LOAD (file bytes, then zeroes up to p_memsz),
 * sets the program break after the image, maps an 8 MiB growable stack and builds the initial
 * stack the SysV x86-64 ABI defines — argc, argv, envp, the auxiliary vector (AT_PHDR, AT_PHENT,
 * AT_PHNUM, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_EXECFN, AT_HWCAP, AT_CLKTCK, AT_UID…, AT_SECURE),
 * the strings and 16 random bytes. The ELF was validated by ElfFile.parse (which rejects a
 * dynamically linked file with "not supported: dynamically linked (PT_INTERP …)").
 *
 * `lazy` (execve) maps the segments without populating them: each page is read from the file on
 * its first fault, and counted as a page fault then. The initial program is populated at once.
 */
export function loadElf(k: Kernel, p: Process, elf: ElfFile, argv: ReadonlyArray<string | Uint8Array>, envp: ReadonlyArray<string | Uint8Array>, execfn: string, pieBase = PIE_BASE, lazy = false): ImageInfo {
  const mm = p.mm;
  const base = elf.isStaticPie ? pieBase : 0;
  const mem = k.machine.mem;
  const fill = lazy ? imageFill(k, elf, base) : undefined;
  let end = 0;
  for (const seg of elf.loadSegments()) {
    const start = pageDown(base + seg.vaddr);
    const stop = pageUp(base + seg.vaddr + seg.memsz);
    const prot = ((seg.flags & PF_R) ? PROT_READ : 0) | ((seg.flags & PF_W) ? PROT_WRITE : 0) | ((seg.flags & PF_X) ? PROT_EXEC : 0);
    mm.vmas.remove(start, stop);
    const vma = new Vma(start, stop, prot, MAP_PRIVATE, execfn);
    mm.vmas.insert(vma);
    if (fill !== undefined) {
      // execve maps the segments and leaves them to page faults (filemap_fault).
      vma.fill = fill;
      end = Math.max(end, stop);
      continue;
    }
    const fileStart = base + seg.vaddr;
    const fileEnd = fileStart + seg.filesz;
    const data = elf.segmentData(seg);
    for (let va = start; va < stop; va += PAGE_SIZE) {
      const pte = mm.pte(va);
      let frame: number;
      if (pte !== undefined && (pte.lo & 1) !== 0) {
        frame = ((pte.lo & 0xffff_f000) >>> 0) + (pte.hi & 0xfffff) * 0x1_0000_0000; // shared boundary page
      } else {
        frame = k.machine.frames.alloc();
      }
      // Bytes of this page that come from the file; the rest of the segment is zero (bss).
      const from = Math.max(va, fileStart);
      const to = Math.min(va + PAGE_SIZE, fileEnd);
      if (to > from) mem.writeBytes(frame + (from - va), data.subarray(from - fileStart, to - fileStart));
      mm.mapPage(va, frame, vma, true);
    }
    end = Math.max(end, stop);
  }
  mm.startBrk = mm.brk = end;

  // The stack (128 KiB, growing on demand up to RLIMIT_STACK), and the initial process stack at its top.
  mm.vmas.insert(new Vma(STACK_TOP - INITIAL_STACK_SIZE, STACK_TOP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, '[stack]'));
  const enc = new TextEncoder();
  let sp = STACK_TOP;
  const pushBytes = (b: Uint8Array): number => {
    sp -= b.length;
    k.accessProcessVm(p, sp, b.length, b);
    return sp;
  };
  // A string is UTF-8 encoded; bytes (what execve copied in) are used as they are.
  const cstr = (s: string | Uint8Array): Uint8Array => {
    const e = typeof s === 'string' ? enc.encode(s) : s;
    const b = new Uint8Array(e.length + 1);
    b.set(e);
    return b;
  };
  const execfnVa = pushBytes(cstr(execfn));
  const envVas = envp.map((e) => pushBytes(cstr(e)));
  const argVas = argv.map((a) => pushBytes(cstr(a)));
  // AT_RANDOM: 16 bytes from a generator seeded by the file, so runs repeat.
  const rnd = new Uint8Array(16);
  let seed = elf.bytes.length ^ 0x9e37_79b9;
  for (let i = 0; i < 16; i++) {
    seed = (Math.imul(seed, 1_103_515_245) + 12345) >>> 0;
    rnd[i] = seed >>> 24;
  }
  const randomVa = pushBytes(rnd);
  const phdr = elf.phdrVaddr;
  const auxv: Array<[number, number]> = [
    [AT_PHDR, phdr !== undefined ? base + phdr : 0],
    [AT_PHENT, 56],
    [AT_PHNUM, elf.programHeaders.length],
    [AT_PAGESZ, PAGE_SIZE],
    [AT_BASE, 0],
    [AT_FLAGS, 0],
    [AT_ENTRY, base + elf.entry],
    [AT_UID, 0],
    [AT_EUID, 0],
    [AT_GID, 0],
    [AT_EGID, 0],
    [AT_SECURE, 0],
    [AT_RANDOM, randomVa],
    [AT_HWCAP, k.machine.cpus[0]!.hwcap],
    [AT_CLKTCK, 100],
    [AT_EXECFN, execfnVa],
    [AT_NULL, 0],
  ];
  const words: number[] = [argv.length, ...argVas, 0, ...envVas, 0, ...auxv.flat()];
  sp -= words.length * 8;
  sp -= sp % 16; // RSP is 16-byte aligned at the entry point, pointing at argc
  const table = new Uint8Array(words.length * 8);
  const dv = new DataView(table.buffer);
  words.forEach((w, i) => {
    dv.setUint32(i * 8, w >>> 0, true);
    dv.setUint32(i * 8 + 4, Math.floor(w / 0x1_0000_0000) >>> 0, true);
  });
  k.accessProcessVm(p, sp, table.length, table);
  return { entry: base + elf.entry, sp, base };
}

/**
 * The page-fault fill of an image's pages: for the page at `va`, the bytes every PT_LOAD segment
 * has there in the file (a page two segments share gets both), zeroes elsewhere (bss).
 */
function imageFill(k: Kernel, elf: ElfFile, base: number): (frame: number, va: number) => void {
  const segs = elf.loadSegments();
  const mem = k.machine.mem;
  return (frame, va) => {
    for (const seg of segs) {
      const fileStart = base + seg.vaddr;
      const from = Math.max(va, fileStart);
      const to = Math.min(va + PAGE_SIZE, fileStart + seg.filesz);
      if (to > from) mem.writeBytes(frame + (from - va), elf.bytes.subarray(seg.offset + (from - fileStart), seg.offset + (to - fileStart)));
    }
  };
}
