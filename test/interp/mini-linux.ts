/**
 * A deliberately small Linux stand-in for the interpreter's end-to-end tests: it loads a static
 * x86-64 ELF (ET_EXEC or static-pie) into ring-3 pages, builds the initial stack (argv, envp,
 * auxv), demand-pages the stack, brk heap and anonymous mmaps from a #PF handler, and answers
 * the handful of system calls musl's start-up, stdio and malloc make, from a native at LSTAR.
 *
 * It is test scaffolding, not the kernel model (core/linux): enough to run the guest programs
 * in examples/guest and compare their output with the native runs.
 */
import { GD_KT, MSR_FMASK, MSR_LSTAR, MSR_STAR, PTE_P, PTE_U, PTE_W, RFLAGS_FIXED, RFLAGS_IF, Vector } from '../../core/vtx/arch.js';
import { ElfFile, PT_LOAD } from '../../core/linux/elf/elf-file.js';
import { Cpu, R10, R8, R9, RAX, RDI, RDX, RSI, RSP } from '../../core/vtx/cpu.js';
import { Env, enterUser, setup } from './harness.js';

const PAGE = 4096;
const STACK_TOP = 0x7fff_ffff_f000;
const STACK_PAGES = 2048; // 8 MiB reserved, demand-paged
const MMAP_BASE = 0x7f00_0000_0000;
const PIE_BASE = 0x5555_5555_4000;

const ENOSYS = 38;
const EBADF = 9;
const ENOTTY = 25;
const ENOMEM = 12;

export interface GuestRun {
  stdout: string;
  stderr: string;
  exitCode: number;
  instructions: number;
  cycles: number;
  seconds: number;
  env: Env;
  unknownSyscalls: number[];
}

interface Region {
  start: number;
  end: number;
}

export function runElf(bytes: Uint8Array, argv: string[], envp: string[] = [], opts: { memory?: number; budget?: number } = {}): GuestRun {
  const env = setup(opts.memory ?? 256 << 20);
  const { cpu, m, boot } = env;
  const elf = ElfFile.parse(bytes);
  const base = elf.isStaticPie ? PIE_BASE : 0;
  const mapped = new Set<number>();
  const regions: Region[] = [];
  const mapPage = (va: number): number => {
    const page = va - (va % PAGE);
    if (mapped.has(page)) return cpu.mmu.debugWalk(page).pa;
    mapped.add(page);
    return boot.userPage(page, PTE_P | PTE_U | PTE_W);
  };
  const writeUser = (va: number, data: Uint8Array): void => {
    for (let k = 0; k < data.length; ) {
      const pa = mapPage(va + k);
      const off = (va + k) % PAGE;
      const n = Math.min(PAGE - off, data.length - k);
      m.mem.writeBytes(pa + off, data.subarray(k, k + n));
      k += n;
    }
  };

  // Segments.
  let brkStart = 0;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD) continue;
    const start = base + ph.vaddr;
    for (let p = start - (start % PAGE); p < start + ph.memsz; p += PAGE) mapPage(p);
    writeUser(start, bytes.subarray(ph.offset, ph.offset + ph.filesz));
    brkStart = Math.max(brkStart, Math.ceil((start + ph.memsz) / PAGE) * PAGE);
  }
  let brk = brkStart;
  regions.push({ start: STACK_TOP - STACK_PAGES * PAGE, end: STACK_TOP });
  const heap: Region = { start: brkStart, end: brkStart };
  regions.push(heap);
  let mmapNext = MMAP_BASE;

  // Initial stack: strings, AT_RANDOM bytes, then argc/argv/envp/auxv (16-byte aligned).
  const enc = new TextEncoder();
  let sp = STACK_TOP;
  const putString = (s: string): number => {
    const b = enc.encode(s + '\0');
    sp -= b.length;
    writeUser(sp, b);
    return sp;
  };
  const argPtrs = argv.map(putString);
  const envPtrs = envp.map(putString);
  sp -= 16;
  const random = sp;
  writeUser(random, new Uint8Array(16).map((_, i) => (i * 37 + 11) & 0xff));
  const execfn = putString(argv[0] ?? 'a.out');
  const phdr = elf.phdrVaddr !== undefined ? base + elf.phdrVaddr : 0;
  const auxv: Array<[number, number]> = [
    [3, phdr], [4, 56], [5, elf.header.phnum], [6, PAGE], [7, 0], [8, 0], [9, base + elf.entry],
    [11, 1000], [12, 1000], [13, 1000], [14, 1000], [16, 0], [17, 100], [23, 0], [25, random], [31, execfn], [0, 0],
  ];
  const words: number[] = [argv.length, ...argPtrs, 0, ...envPtrs, 0];
  for (const [k, v] of auxv) words.push(k, v);
  sp -= words.length * 8;
  sp -= sp % 16;
  const block = new Uint8Array(words.length * 8);
  const dv = new DataView(block.buffer);
  words.forEach((w, i) => {
    dv.setUint32(i * 8, w >>> 0, true);
    dv.setUint32(i * 8 + 4, Math.floor(w / 2 ** 32) >>> 0, true);
  });
  writeUser(sp, block);

  // Demand paging for the stack, heap and mmap regions; anything else stops the run.
  const traps: string[] = [];
  boot.gate(Vector.PageFault, boot.native('#PF', (c) => {
    const addr = c.cr2;
    const userRip = c.mmu.read64Number(c.rsp + 8);
    const inRegion = regions.some((r) => addr >= r.start && addr < r.end);
    const notPresent = (c.mmu.read64Number(c.rsp) & 1) === 0;
    if (inRegion && notPresent) {
      mapPage(addr);
      c.setReg(RSP, c.rsp + 8);
      c.iretq();
      return;
    }
    traps.push(`#PF at 0x${addr.toString(16)} rip 0x${userRip.toString(16)}`);
    exitCode = 128 + 11;
    c.stop();
  }));

  // System calls.
  let stdout = '';
  let stderr = '';
  let exitCode = -1;
  const unknown: number[] = [];
  const dec = new TextDecoder();
  const readUser = (va: number, len: number): Uint8Array => {
    const out = new Uint8Array(len);
    for (let k = 0; k < len; k++) out[k] = cpu.mmu.read8(va + k);
    return out;
  };
  const emit = (fd: number, data: Uint8Array): number => {
    if (fd === 1) stdout += dec.decode(data, { stream: true });
    else if (fd === 2) stderr += dec.decode(data, { stream: true });
    else return -EBADF;
    return data.length;
  };
  const syscall = (c: Cpu): number => {
    const nr = c.lo[RAX]!;
    const a0 = c.reg(RDI);
    const a1 = c.reg(RSI);
    const a2 = c.reg(RDX);
    switch (nr) {
      case 0: return 0; // read: EOF
      case 1: return emit(a0, readUser(a1, a2));
      case 20: { // writev
        let total = 0;
        for (let k = 0; k < a2; k++) {
          const base = c.mmu.read64Number(a1 + 16 * k);
          const len = c.mmu.read64Number(a1 + 16 * k + 8);
          const r = emit(a0, readUser(base, len));
          if (r < 0) return r;
          total += r;
        }
        return total;
      }
      case 3: return 0; // close
      case 16: return -ENOTTY; // ioctl
      case 12: { // brk
        if (a0 === 0 || a0 < brkStart) return brk;
        brk = a0;
        heap.end = Math.ceil(brk / PAGE) * PAGE;
        return brk;
      }
      case 9: { // mmap (anonymous only)
        const len = Math.ceil(a1 / PAGE) * PAGE;
        if ((c.reg(R10) & 0x20) === 0) return -ENOMEM;
        const at = mmapNext;
        mmapNext += len + PAGE;
        regions.push({ start: at, end: at + len });
        return at;
      }
      case 11: case 10: case 28: return 0; // munmap, mprotect, madvise
      case 25: return -ENOMEM; // mremap: let malloc fall back to copying
      case 13: case 14: return 0; // rt_sigaction, rt_sigprocmask
      case 158: // arch_prctl
        if (a0 === 0x1002) {
          c.fsBase = a1;
          return 0;
        }
        return -22;
      case 218: return 1; // set_tid_address
      case 39: case 186: return 1; // getpid, gettid
      case 102: case 104: case 107: case 108: return 1000; // getuid …
      case 228: { // clock_gettime
        const ns = Math.floor(c.cycles / 3.3);
        c.mmu.write64Number(a1, Math.floor(ns / 1e9));
        c.mmu.write64Number(a1 + 8, ns % 1e9);
        return 0;
      }
      case 60: case 231: // exit, exit_group
        exitCode = a0 & 0xff;
        c.stop();
        return 0;
      default:
        unknown.push(nr);
        return -ENOSYS;
    }
  };
  const lstar = boot.native('lstar', (c) => {
    const r = syscall(c);
    if (c.stopped) return;
    c.setReg(RAX, r);
    c.sysret();
  });
  cpu.wrmsr(MSR_LSTAR, lstar >>> 0, Math.floor(lstar / 2 ** 32) >>> 0);
  cpu.wrmsr(MSR_STAR, 0, ((0x1b << 16) | GD_KT) >>> 0); // SYSRET base 0x18 → CS 0x2b, SS 0x23
  cpu.wrmsr(MSR_FMASK, 0x4_0700, 0);

  enterUser(env, sp, false);
  for (const r of [RDI, RSI, RDX, R8, R9, R10]) cpu.setReg(r, 0);
  cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
  cpu.rip = base + elf.entry;
  const t0 = performance.now();
  cpu.runUntil(opts.budget ?? 5e10);
  const seconds = (performance.now() - t0) / 1000;
  if (env.traps.length > 0) traps.push(...env.traps.map((t) => `vector ${t.vector} at 0x${t.rip.toString(16)}`));
  if (traps.length > 0) stderr += `\n[mini-linux] ${traps.join('; ')}`;
  return { stdout, stderr, exitCode, instructions: cpu.instructions, cycles: cpu.cycles, seconds, env, unknownSyscalls: unknown };
}
