import { describe, it, expect } from 'vitest';
import { PTE_P, PTE_U, PTE_W, RFLAGS_FIXED, RFLAGS_IF } from '../../core/vtx/arch.js';
import { GPR_NAMES } from '../../core/vtx/cpu.js';
import { TRANSLATE_AFTER, clockBound } from '../../core/vtx/interp/interpreter.js';
import { Env, USER_CODE, USER_DATA, enterUser, hex, placeUser, setRegs, setup, userData } from './harness.js';

/**
 * The block translator against the interpreter on the cases where a block must stop exactly where
 * the interpreter would: a slice's clock limit, a store that rewrites an instruction of the
 * running block, a page fault in the middle of a block. Each snippet runs on two machines, one
 * with the translator and one without, in slices of every size from 1 to 40 cycles; after every
 * slice RIP, the clock, the instruction count, all registers and RFLAGS must agree, and so must the
 * exceptions delivered and every machine statistic at the end.
 */

interface Snapshot {
  rip: number;
  cycles: number;
  instructions: number;
  rflags: number;
  regs: string[];
  xmm: number[];
}

function runSliced(code: string, regs: Record<string, number>, slice: number, jit: boolean, dataPages = 1, fsBase = 0, clock = 0) {
  const env = setup(32 << 20, jit);
  const p = placeUser(env, hex(code));
  userData(env, USER_DATA, dataPages);
  enterUser(env);
  setRegs(env.cpu, regs);
  const cpu = env.cpu;
  cpu.rflags = RFLAGS_FIXED;
  cpu.fsBase = fsBase;
  cpu.rip = p.va;
  cpu.stopped = false;
  if (clock !== 0) cpu.cycles = clock;
  const snaps: Snapshot[] = [];
  for (let n = 0; n < 100_000 && !cpu.stopped && !cpu.halted; n++) {
    cpu.runUntil(cpu.cycles + slice);
    snaps.push({
      rip: cpu.rip, cycles: cpu.cycles, instructions: cpu.instructions, rflags: cpu.rflags,
      regs: GPR_NAMES.map((_, i) => cpu.regBig(i).toString(16)),
      xmm: Array.from(env.it.x32.subarray(0, 64)), // XMM0-15 as dwords (NaN payloads included)
    });
  }
  return { snaps, traps: env.traps, stats: env.m.stats.toJSON(), blocks: env.it.blockRuns, chained: env.it.chainedRuns, code: p };
}

function same(code: string, regs: Record<string, number>, dataPages = 1, fsBase = 0, clock = 0): number {
  let blocks = 0;
  let chained = 0;
  for (const slice of [1, 2, 3, 5, 7, 11, 13, 40, 1000, 1e9]) {
    const off = runSliced(code, regs, slice, false, dataPages, fsBase, clock);
    const on = runSliced(code, regs, slice, true, dataPages, fsBase, clock);
    expect(off.blocks).toBe(0);
    expect(on.snaps).toEqual(off.snaps);
    expect(on.traps).toEqual(off.traps);
    expect(on.stats).toEqual(off.stats);
    blocks += on.blocks;
    chained += on.chained;
  }
  lastChained = chained;
  return blocks;
}

/** Blocks entered by chaining over all the slice sizes of the last `same`. */
let lastChained = 0;

describe('block translator: blocks stop where the interpreter stops', () => {
  it('a counted loop (ADD, DEC, JNE) in slices of any size', () => {
    // mov ecx, 100; L: add rax, rcx; dec ecx; jne L
    const blocks = same('B9 64000000  4801C8  FFC9  75F9', {});
    expect(blocks).toBeGreaterThan(0);
  });

  it('a clock with a fractional part crossing powers of two inside a hot loop keeps the interpreter\'s bits', () => {
    // The interpreter adds one cycle per instruction; a block adds them where the clock is read.
    // Below a power of two whole cycles add exactly, above it the last bit of the fraction is
    // rounded away: started just under 2^20 and 2^30 with a fraction that uses every bit of the
    // mantissa, the loop's clock crosses the power of two mid-loop and must round as the
    // interpreter rounds it.
    // mov ecx, 100; L: add rax, rcx; dec ecx; jne L
    const code = 'B9 64000000  4801C8  FFC9  75F9';
    for (const clock of [2 ** 20 - 97 - 1 / 3, 2 ** 30 - 151 - Math.PI / 7, 12.1]) {
      expect(same(code, {}, 1, 0, clock)).toBeGreaterThan(0);
      const r = runSliced(code, {}, 1e9, true, 1, 0, clock);
      expect(r.snaps.at(-1)!.cycles).toBeGreaterThan(clockBound(clock)); // it did cross
    }
    expect(clockBound(0)).toBe(1);
    expect(clockBound(1)).toBe(2);
    expect(clockBound(2 ** 20 - 0.5)).toBe(2 ** 20);
    expect(clockBound(2 ** 20)).toBe(2 ** 21);
    expect(clockBound(2 ** 60)).toBe(2 ** 53);
  });

  it('loads that miss L0 on every new page leave the block before them; the run loop takes the walk', () => {
    // L: add rax, [rsi]; add rsi, 0x200; dec ecx; jne L — 8 data pages, 8 loads per page: the
    // first load in each page misses the MMU's L0 entries, the rest hit.
    const code = '480306  4881C600020000  FFC9  75F3';
    const regs = { rsi: USER_DATA, rcx: 64 };
    expect(same(code, regs, 8)).toBeGreaterThan(0);
    const r = runSliced(code, regs, 1e9, true, 8);
    expect(r.traps).toEqual([]);
    // The walks of the eight pages (the MMU's counters are named after its CPU).
    const walks = Object.entries(r.stats).filter(([k]) => k.endsWith('.mmu.walks')).reduce((a, [, v]) => a + v, 0);
    expect(walks).toBeGreaterThanOrEqual(8);
  });

  it('REP MOVSB and REP STOSB with RCX = 0 do nothing in a block, and with RCX > 0 run the handler', () => {
    // L: mov rcx, rbx; and ecx, 3; rep movsb; mov rcx, rbx; and ecx, 1; rep stosb; dec ebx; jne L
    // RCX is 0 on every fourth (MOVSB) and every second (STOSB) pass.
    const code = '4889D9  83E103  F3A4  4889D9  83E101  F3AA  FFCB  75EC';
    const regs = { rbx: 40, rsi: USER_DATA, rdi: USER_DATA + 0x800, rax: 0x5a };
    expect(same(code, regs)).toBeGreaterThan(0);
  });

  it('a loop that rewrites an immediate of its own block (self-modifying code)', () => {
    // mov ecx, 200
    // L: add rbx, rax; cmp ecx, 50; cmove rdi, rsi; mov [rdi], ecx; mov eax, 7; dec ecx; jne L
    // Every pass stores into the code page (RDI: a spare byte after the code, then RSI: the imm32
    // of `mov eax, 7`). From pass 151 on the store, inside the translated block, rewrites an
    // instruction after it in the same block: the block must end there and the new one run.
    const code = 'B9 C8000000  4801C3  83F932  480F44FE  890F  B8 07000000  FFC9  75EB';
    const regs = { rdi: USER_CODE + 0x100, rsi: USER_CODE + 18 };
    const blocks = same(code, regs);
    expect(blocks).toBeGreaterThan(0);
    // RBX adds the previous pass's EAX: 0, then 7 for 150 passes, then 50, 49, … 2.
    const env = runSliced(code, regs, 1e9, true);
    expect(BigInt('0x' + env.snaps.at(-1)!.regs[3])).toBe(150n * 7n + (50n * 51n / 2n - 1n));
  });

  it('a page fault in the middle of a hot block: RIP, registers, flags and clock of the faulting instruction', () => {
    // L: cmp rdx, rcx; mov rax, [rsi]; add rsi, 0x10; add rdx, 1; jmp L
    // Reads walk off the one data page after 256 passes: #PF at the load, after the CMP's flags.
    const code = '4839CA  488B06  4881C610000000  4883C201  EBEE';
    const blocks = same(code, { rsi: USER_DATA, rcx: 7 });
    expect(blocks).toBeGreaterThan(0);
    const r = runSliced(code, { rsi: USER_DATA, rcx: 7 }, 1e9, true);
    expect(r.traps.map((t) => [t.vector, t.rip - r.code.va])).toEqual([[14, 3]]);
    expect(r.snaps.at(-1)!.regs[2]).toBe('100'); // RDX: 256 passes completed
  });

  it('IMUL and shifts inlined in a block leave the flags a later ADC reads', () => {
    // mov ecx, 100
    // L: imul eax, edx; adc ebx, 0; shl edx, 3; adc esi, 0; imul rdi, rdx; adc ebp, 0
    //    add edx, ecx; dec ecx; jne L
    const code = 'B9 64000000  0FAFC2 83D300  C1E203  83D600  480FAFFA  83D500  01CA  FFC9  75E7';
    const blocks = same(code, { rax: 3, rdx: 0x12345, rdi: 0x1_2345_6789 });
    expect(blocks).toBeGreaterThan(0);
  });

  it('64-bit shifts by immediates of every range, and 32-bit ones by 1, leave the flags ADC and SETO read', () => {
    // mov ecx, 200
    // L: per shift, rdx = rbx, then SHL 33 / SAR 7 / SHR 40 / SAR 63 / SHL 1 / SHL 32 + SHR 32 of
    //    rdx (64-bit), SHL edx, 5 and SHR edx, 1 (32-bit), each followed by ADC (CF) or SETO (OF,
    //    summed into rdi); then rbx = rbx * 5 + rcx; dec ecx; jne L
    const code = 'B9 C8000000  48 89 DA  48 C1 E2 21  48 83 D6 00  0F 90 C0  48 01 C7  48 89 DA  48 C1 FA 07  ' +
      '48 11 D6  0F 90 C0  48 01 C7  48 89 DA  48 C1 EA 28  48 11 D6  48 89 DA  48 C1 FA 3F  48 11 D5  ' +
      '48 89 DA  48 D1 E2  0F 90 C0  48 01 C7  48 89 DA  48 C1 E2 20  48 11 D6  48 C1 EA 20  48 11 D6  ' +
      '48 89 DA  C1 E2 05  48 11 D6  D1 EA  0F 90 C0  48 01 C7  48 6B DB 05  48 01 CB  FF C9  75 92';
    const blocks = same(code, { rbx: 0x8765_4321, rax: 0 });
    expect(blocks).toBeGreaterThan(0);
  });

  it('SHL/SHR/SAR of 32- and 64-bit registers by CL, every count from 0 to 63 and beyond, leave the flags ADC and SETO read', () => {
    // mov ebp, 200
    // L: per shift, rdx = rbx, then SHL/SHR/SAR rdx, cl and SHL/SHR/SAR edx, cl (a count of 0 must
    //    still clear the high half of RDX for the 32-bit forms), each followed by ADC (CF) or SETO
    //    (OF, summed into rdi); then cl += 7 (counts 0..255 masked to 0..63 or 0..31);
    //    rbx = rbx * 5 + rbp; dec ebp; jne L
    const code = 'BD C8000000  48 89 DA  48 D3 E2  48 83 D6 00  0F 90 C0  48 01 C7  48 89 DA  48 D3 EA  48 11 D6  48 89 DA  48 D3 FA  48 11 D6  0F 90 C0  48 01 C7  48 89 DA  D3 E2  48 11 D6  48 89 DA  D3 EA  48 11 D6  48 89 DA  D3 FA  48 11 D6  0F 90 C0  48 01 C7  83 C1 07  48 6B DB 05  48 01 EB  FF CD  75 AC';
    const blocks = same(code, { rbx: 0x8765_4321_1234_5678, rcx: 0, rax: 0 });
    expect(blocks).toBeGreaterThan(0);
  });

  it('CMP and TEST of bytes and words in memory with an immediate feed the branches after them', () => {
    // mov ecx, 300
    // L: mov [rsi+rcx], cl; cmp byte [rsi+rcx], 0x80; jb +4; add rdi, 1
    //    test word [rsi], 0x0101; adc rbx, 0; cmp word [rsi+rcx], 0x7000; jl +4; add rbp, 1
    //    dec ecx; jne L
    const code = 'B9 2C010000  88 0C 0E  80 3C 0E 80  72 04  48 83 C7 01  66 F7 06 01 01  48 83 D3 00  ' +
      '66 81 3C 0E 00 70  7C 04  48 83 C5 01  FF C9  75 DA';
    const blocks = same(code, { rsi: USER_DATA });
    expect(blocks).toBeGreaterThan(0);
    const r = runSliced(code, { rsi: USER_DATA }, 1e9, true);
    expect(Number.parseInt(r.snaps.at(-1)!.regs[7]!, 16)).toBe(128); // CL ≥ 0x80 for RCX 128..255 only
  });

  it('memory-destination ALU, SETcc, MOVSX, and indirect JMP and CALL inlined in blocks', () => {
    // mov ecx, 150
    // L: add [rsi], rbx; sub qword [rsi+8], 0x11223344; cmp [rsi+16], ecx; setl al; seta ah
    //    xor [rsi+16], ecx; and qword [rsi+24], -16; movsx rdx, cl; movsx edi, cx; movsxd rbp, ecx
    //    add rbx, rdx; lea rax, [T1]; jmp rax
    // T1: lea rdx, [F]; call rdx; lea rax, [T2]; mov [rsi+40], rax; jmp [rsi+40]
    // T2: dec ecx; jne L
    // F: add rbx, 1; ret
    const code = 'B9 96000000  48 01 1E  48 81 6E 08 44 33 22 11  39 4E 10  0F 9C C0  0F 97 C4  31 4E 10  ' +
      '48 83 66 18 F0  48 0F BE D1  0F BF F9  48 63 E9  48 01 D3  48 8D 05 02000000  FF E0  ' +
      '48 8D 15 14000000  FF D2  48 8D 05 07000000  48 89 46 28  FF 66 28  FF C9  75 B3  48 83 C3 01  C3';
    const regs = { rsi: USER_DATA, rsp: USER_DATA + 0x800, rbx: 0x9abc_def0 };
    const blocks = same(code, regs);
    expect(blocks).toBeGreaterThan(0);
  });

  it('FS-relative operands, CMOVcc, NEG/NOT, MOVSX from memory and NOP inlined in blocks', () => {
    // mov ecx, 200
    // L: mov rax, fs:[0x28]; sub rdx, fs:[0x28]; cmovl rbx, rax; cmovae edi, ecx; neg rdx; adc rbx, 0
    //    neg eax; setb al; not rbx; movsx rbp, byte [rsi+rcx]; movsxd rax, dword [rsi+rcx*4]; nop [rax]
    //    add rdi, rax; add rbx, rbp; mov [rsi+rcx], cl; mov [rsi+rcx*4], ecx; mov fs:[0x28], rbx
    //    dec ecx; jne L
    const code = 'B9 C8000000  64 48 8B 04 25 28000000  64 48 2B 14 25 28000000  48 0F 4C D8  0F 43 F9  48 F7 DA  ' +
      '48 83 D3 00  F7 D8  0F 92 C0  48 F7 D3  48 0F BE 2C 0E  48 63 04 8E  0F 1F 00  48 01 C7  48 01 EB  88 0C 0E  ' +
      '89 0C 8E  64 48 89 1C 25 28000000  FF C9  75 B3';
    const blocks = same(code, { rsi: USER_DATA, rbx: 0x1234_5678_9abc, rdx: 5 }, 1, USER_DATA + 0x800);
    expect(blocks).toBeGreaterThan(0);
  });

  it('scalar-double SSE2 in blocks: MOVSD, ADDSD/SUBSD/MULSD/DIVSD with infinities and NaNs, PXOR, CVTSI2SD', () => {
    // mov ecx, 100
    // L: cvtsi2sd xmm1, ecx; movlhps xmm2, xmm1 (a high half for the load to clear)
    //    movsd xmm2, [rsi+8]; mulsd xmm2, xmm1; addsd xmm0, xmm2
    //    divsd xmm1, [rsi] (0.0: infinity); subsd xmm1, xmm0 (inf - inf from the second pass: the
    //    default NaN, then NaNs whose payload propagates); movsd [rsi+8], xmm1; movsd xmm3, xmm1
    //    pxor xmm4, xmm3; xorps xmm5, xmm5; mulsd xmm1, xmm1; dec ecx; jne L
    const code = 'B9 64000000  F2 0F 2A C9  0F 16 D1  F2 0F 10 56 08  F2 0F 59 D1  F2 0F 58 C2  F2 0F 5E 0E  ' +
      'F2 0F 5C C8  F2 0F 11 4E 08  F2 0F 10 D9  66 0F EF E3  0F 57 ED  F2 0F 59 C9  FF C9  75 CC';
    const blocks = same(code, { rsi: USER_DATA });
    expect(blocks).toBeGreaterThan(0);
  });

  it('MOVSB/W/D/Q in blocks: both directions, unaligned pointers, and a page fault at the string move', () => {
    // mov ecx, 120
    // L: movsb; movsq; movsw; movsd; add rbx, [rdi-8]
    //    test cl, 4; jne +1; std; test cl, 4; je +1; cld (DF set for four passes, clear for four)
    //    dec ecx; jne L
    // RSI reads the code page; RDI writes the data page, 15 bytes per pass (so most accesses are
    // unaligned at some point and take the handler).
    const code = 'B9 78000000  A4  48 A5  66 A5  A5  48 03 5F F8  F6 C1 04  75 01  FD  F6 C1 04  74 01  FC  FF C9  75 E6';
    const inPage = { rsi: USER_CODE, rdi: USER_DATA + 0x800 };
    expect(same(code, inPage)).toBeGreaterThan(0);
    const r = runSliced(code, inPage, 1e9, true);
    expect(r.traps).toEqual([]);
    // Starting 40 bytes below the end of the data page, the passes moving upwards (the 1st, then
    // the 3rd to 5th) leave the page: the #PF is raised by a string move in the middle of a block.
    const nearEnd = { rsi: USER_CODE, rdi: USER_DATA + 0x1000 - 40 };
    same(code, nearEnd);
    const f = runSliced(code, nearEnd, 1e9, true);
    expect(f.traps.map((t) => t.vector)).toEqual([14]);
    expect([5, 6, 8, 10]).toContain(f.traps[0]!.rip - f.code.va); // one of the four MOVS
  });

  it('a new machine running the same code reuses the compiled block functions, with the same results', () => {
    // mov ecx, 300; L: add rax, rcx; mov [rsi], rax; dec ecx; jne L
    const code = 'B9 2C010000  4801C8  488906  FFC9  75F6';
    const first = runSliced(code, { rsi: USER_DATA }, 7, true);
    const env = setup(32 << 20, true);
    const before = env.it.translator!.reused;
    const p = placeUser(env, hex(code));
    userData(env, USER_DATA, 1);
    enterUser(env);
    setRegs(env.cpu, { rsi: USER_DATA });
    env.cpu.rflags = RFLAGS_FIXED;
    env.cpu.rip = p.va;
    env.cpu.stopped = false;
    while (!env.cpu.stopped && !env.cpu.halted) env.cpu.runUntil(env.cpu.cycles + 7);
    expect(env.it.translator!.reused).toBeGreaterThan(before);
    expect(env.it.blockRuns).toBe(first.blocks);
    const last = first.snaps.at(-1)!;
    expect([env.cpu.rip, env.cpu.cycles, env.cpu.instructions]).toEqual([last.rip, last.cycles, last.instructions]);
    expect(GPR_NAMES.map((_, i) => env.cpu.regBig(i).toString(16))).toEqual(last.regs);
  });

  it('translates only after the threshold of arrivals by a branch', () => {
    expect(TRANSLATE_AFTER).toBeGreaterThan(1);
    // A loop of fewer passes than the threshold never runs a block.
    const r = runSliced(`B9 ${(TRANSLATE_AFTER - 1).toString(16).padStart(2, '0')}000000  4801C8  FFC9  75F9`, {}, 1e9, true);
    expect(r.blocks).toBe(0);
  });
});

/** Code of two pages: `first` at the start of the first, `second` at the start of the next (NOP padding between). */
function twoPages(first: string, second: string): string {
  const pad = 4096 - hex(first).length;
  return `${first} ${'90'.repeat(pad)} ${second}`;
}

/**
 * Runs `code` with and without the translator in slices of `slice` cycles, calling `between`
 * after every slice (the same host-side change on both machines), and compares every snapshot,
 * the exceptions and the statistics.
 */
function sameWith(code: string, regs: Record<string, number>, slice: number, between: (env: Env, n: number) => void): { chained: number; rbx: bigint } {
  const run = (jit: boolean) => {
    const env = setup(32 << 20, jit);
    const p = placeUser(env, hex(code));
    userData(env, USER_DATA, 1);
    enterUser(env);
    setRegs(env.cpu, regs);
    const cpu = env.cpu;
    cpu.rflags = RFLAGS_FIXED;
    cpu.rip = p.va;
    cpu.stopped = false;
    const snaps: unknown[] = [];
    for (let n = 0; n < 100_000 && !cpu.stopped && !cpu.halted; n++) {
      cpu.runUntil(cpu.cycles + slice);
      snaps.push([cpu.rip, cpu.cycles, cpu.instructions, cpu.rflags, GPR_NAMES.map((_, i) => cpu.regBig(i).toString(16))]);
      between(env, n);
    }
    return { snaps, traps: env.traps, stats: env.m.stats.toJSON(), chained: env.it.chainedRuns, rbx: cpu.regBig(3) };
  };
  const off = run(false);
  const on = run(true);
  expect(on.snaps).toEqual(off.snaps);
  expect(on.traps).toEqual(off.traps);
  expect(on.stats).toEqual(off.stats);
  expect(off.rbx).toBe(on.rbx);
  return on;
}

describe('block translator: chained blocks', () => {
  it('a loop of two blocks chained to each other, in slices of any size', () => {
    // mov ecx, 200
    // L: add rax, rcx; jne M (always taken: a side exit, where a JMP would let the block go on)
    // M: imul rbx, rax, 3; xor rdx, rbx; imul edx, [rsi]; mov [rsi], edx; dec ecx; jne L
    const code = 'B9 C8000000  4801C8  75 00  486BD803  4831DA  0FAF16  8916  FFC9  75EB';
    expect(same(code, { rsi: USER_DATA })).toBeGreaterThan(0);
    expect(lastChained).toBeGreaterThan(100);
  });

  it('a JMP and a CALL to the same page continue the block at their targets (a superblock)', () => {
    // mov ecx, 300
    // L: add rax, rcx; call F; dec ecx; jne L; jmp END
    // F: imul rbx, rax, 3; jmp G; G: xor rdx, rbx; ret
    // One pass is two block entries — add … ret, then dec, jne — where blocks ending at every
    // JMP and CALL would take four.
    const code = 'B9 2C010000  4801C8  E8 06000000  FFC9  75F4  EB0A  486BD803  EB00  4831DA  C3';
    expect(same(code, {})).toBeGreaterThan(0);
    const r = runSliced(code, {}, 1e9, true);
    expect(r.blocks + r.chained).toBeLessThan(2 * 300 + 20);
    expect(r.blocks + r.chained).toBeGreaterThan(300);
  });

  it('self-modifying code: a store rewrites the chained successor in another page', () => {
    // Page 1 — mov ecx, 200
    //   L: add rbx, rax; cmp ecx, 50; cmove rdi, rsi; mov [rdi], ecx; jmp M
    // Page 2 — M: mov eax, 7; dec ecx; jne L
    // The store goes to a spare byte of page 2 until pass 151, then to the immediate of `mov eax, 7`:
    // the block of page 1 has not changed, but the block it chains to has.
    const code = twoPages('B9 C8000000  4801C3  83F932  480F44FE  890F  E9 EA0F0000', 'B8 07000000  FFC9  0F85 F8EFFFFF');
    const regs = { rdi: USER_CODE + 0x1100, rsi: USER_CODE + 0x1001 };
    same(code, regs);
    expect(lastChained).toBeGreaterThan(100);
    const env = runSliced(code, regs, 1e9, true);
    expect(BigInt('0x' + env.snaps.at(-1)!.regs[3])).toBe(150n * 7n + (50n * 51n / 2n - 1n));
  });

  it('a page-table change (another frame, INVLPG) between chained blocks in two pages', () => {
    // Page 1 — mov ecx, 300; L: add rbx, rax; jmp M
    // Page 2 — M: mov eax, 7; dec ecx; jne L
    // After the fifth slice the host maps page 2 to a new frame holding `mov eax, 9` and
    // invalidates the page, as a kernel would: the link from page 1 to the old block must not be
    // taken (the fetch would find the new frame).
    const second = (imm: string) => `B8 ${imm}000000  FFC9  0F85 F8EFFFFF`;
    const code = twoPages('B9 2C010000  4801C3  E9 F10F0000', second('07'));
    let remappedAt = -1;
    const r = sameWith(code, {}, 50, (env, n) => {
      if (n !== 8) return;
      const va = USER_CODE + 0x1000;
      const pa = env.boot.userPage(va, PTE_P | PTE_U | PTE_W);
      env.m.mem.writeBytes(pa, hex(second('09')));
      env.cpu.mmu.invlpg(va);
      remappedAt = env.cpu.instructions;
    });
    expect(r.chained).toBeGreaterThan(100);
    // Three instructions per pass, the first pass two: the passes before the change added 7 (less
    // the first pass's EAX of 0), the rest 9.
    expect(remappedAt).toBeGreaterThan(0);
    expect(r.rbx).toBeGreaterThan(299n * 7n);
    expect(r.rbx).toBeLessThan(299n * 9n);
  });

  it('a page fault in a block entered by chaining: the state of the faulting instruction', () => {
    // L: add rdx, 1; jne M
    // M: cmp rdx, rcx; mov rax, [rsi]; add rsi, 0x10; jne L (both always taken: side exits)
    // The load walks off the data page after 256 passes: #PF in the middle of the chained block.
    const code = '4883C201  75 00  4839CA  488B06  4883C610  75EE';
    same(code, { rsi: USER_DATA, rcx: 7 });
    expect(lastChained).toBeGreaterThan(100);
    const r = runSliced(code, { rsi: USER_DATA, rcx: 7 }, 1e9, true);
    expect(r.traps.map((t) => [t.vector, t.rip - r.code.va])).toEqual([[14, 9]]);
    expect(r.snaps.at(-1)!.regs[2]).toBe('101'); // RDX: 257 increments, the last pass faulting
  });

  it('a timer interrupt falling anywhere in a run of chained blocks is taken at the same instruction', () => {
    // mov ecx, 1000; L: add rax, rcx; jne M (always taken); M: xor rbx, rax; dec ecx; jne L
    const code = 'B9 E8030000  4801C8  75 00  4831C3  FFC9  75F4';
    for (let deadline = 3000; deadline < 3016; deadline++) {
      const run = (jit: boolean) => {
        const env = setup(32 << 20, jit);
        const p = placeUser(env, hex(code));
        enterUser(env);
        const cpu = env.cpu;
        cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
        cpu.rip = p.va;
        cpu.stopped = false;
        env.boot.gate(0x40, env.boot.native('timer', (c) => {
          env.traps.push({ vector: 0x40, errorCode: undefined, rip: c.mmu.read64Number(c.rsp), cr2: 0, rflags: 0 });
          c.stop();
        }));
        cpu.armTimer(deadline, 0x40);
        cpu.runUntil(1e9);
        return { traps: env.traps, cycles: cpu.cycles, instructions: cpu.instructions, regs: GPR_NAMES.map((_, i) => cpu.regBig(i)), chained: env.it.chainedRuns, runs: env.it.blockRuns };
      };
      const off = run(false);
      const on = run(true);
      expect(on.traps.map((t) => t.vector)).toEqual([0x40]);
      expect({ ...on, chained: 0, runs: 0 }).toEqual({ ...off, chained: 0, runs: 0 });
      expect(on.chained).toBeGreaterThan(100);
    }
  });

  it('register locals are stored before a handler call and loaded after it (MUL, ADC, REP STOSB, XCHG)', () => {
    // mov ecx, 100
    // L: add rax, 5; mov r8, rcx; mul r8 (RDX:RAX, a handler); add rax, rdx; adc rbx, rax (a handler)
    //    xchg rbx, rdx; lea rdi, [rsi+8]; push rcx; mov ecx, 3; rep stosb (RDI, RCX and memory)
    //    pop rcx; add rbx, rdi; mov r9, [rsi+8]; add rbx, r9; dec ecx; jne L
    const code = 'B9 64000000  4883C005  4989C8  49F7E0  4801D0  4811C3  4887DA  488D7E08  51  B9 03000000  F3AA  ' +
      '59  4801FB  4C8B4E08  4C01CB  FFC9  75D2';
    const regs = { rsi: USER_DATA, rsp: USER_DATA + 0x800 };
    expect(same(code, regs)).toBeGreaterThan(0);
  });
});
