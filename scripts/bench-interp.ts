/**
 * Interpreter throughput: runs hand-assembled CPU-bound loops in ring 3 on the emulated machine
 * (cycle model on, TLB and all) and prints guest instructions per second of host time.
 *
 *     npx tsx scripts/bench-interp.ts [seconds-per-kernel]
 *
 * Kernels:
 *   sieve — Eratosthenes over 64 KiB, repeated (byte stores, compares, imul, branches);
 *   crc32 — bitwise CRC-32 of 16 KiB (shifts, logic, neg, a tight inner loop).
 */
import { GD_UD, GD_UT, PTE_P, PTE_U, PTE_W } from '../core/vtx/arch.js';
import { LongModeBoot } from '../core/vtx/boot.js';
import { Machine } from '../core/vtx/machine.js';
import { installInterpreter } from '../core/vtx/interp/interpreter.js';

// Assembled with GNU as (Intel syntax); the source is next to each kernel.
const KERNELS: Array<{ name: string; source: string; code: string; setup: (data: number) => Record<number, number> }> = [
  {
    name: 'sieve',
    source: `
outer:  xor ecx, ecx
clear:  mov byte ptr [rdi+rcx], 1 ; inc rcx ; cmp rcx, rsi ; jb clear
        mov ecx, 2
loop_i: mov rax, rcx ; imul rax, rcx ; cmp rax, rsi ; jae done_i
        cmp byte ptr [rdi+rcx], 0 ; je next_i
mark:   mov byte ptr [rdi+rax], 0 ; add rax, rcx ; cmp rax, rsi ; jb mark
next_i: inc rcx ; jmp loop_i
done_i: xor eax, eax ; xor ecx, ecx
count:  movzx edx, byte ptr [rdi+rcx] ; add eax, edx ; inc rcx ; cmp rcx, rsi ; jb count
        add r12, rax ; dec r8 ; jnz outer`,
    code:
      '31c9c6040f0148ffc14839f172f4b9020000004889c8480fafc14839f07317803c0f00740cc60407004801c84839f072f448ffc1ebdd' +
      '31c031c90fb6140f01d048ffc14839f172f24901c449ffc875b0',
    // rdi = array, rsi = N, r8 = repetitions
    setup: (data) => ({ 7: data, 6: 65536, 8: 1_000_000 }),
  },
  {
    name: 'crc32',
    source: `
        mov eax, -1 ; xor ecx, ecx
byte:   movzx r9d, byte ptr [rsi+rcx] ; xor eax, r9d ; mov r10d, 8
bit:    mov r11d, eax ; shr eax, 1 ; and r11d, 1 ; neg r11d ; and r11d, 0xEDB88320 ; xor eax, r11d
        dec r10d ; jnz bit
        inc rcx ; cmp rcx, rdx ; jb byte
        not eax`,
    code:
      'b8ffffffff31c9440fb60c0e4431c841ba080000004189c3d1e84183e30141f7db4181e32083b8ed4431d841ffca75e548ffc14839d172cff7d0',
    // rsi = buffer, rdx = length (a loop around it is the outer jmp below)
    setup: (data) => ({ 6: data, 2: 1 << 30 }),
  },
];

function hex(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

const seconds = Number(process.argv[2] ?? 2);
const CODE = 0x40_0000;
const DATA = 0x60_0000;
const DATA_PAGES = 64;

for (const k of KERNELS) {
  const m = new Machine({ memory: 64 << 20 });
  const boot = new LongModeBoot(m, { directMapBase: -0x7780_0000_0000 });
  installInterpreter(m);
  const cpu = m.cpus[0]!;
  const codePa = boot.userPage(CODE, PTE_P | PTE_U);
  m.mem.writeBytes(codePa, hex(k.code));
  // After the kernel: stop (a native), so one run is one pass.
  const stop = m.natives.register('stop', (c) => c.stop());
  m.natives.install(m.mem, codePa + k.code.length / 2, stop);
  for (let p = 0; p < DATA_PAGES; p++) {
    const pa = boot.userPage(DATA + p * 4096, PTE_P | PTE_U | PTE_W);
    for (let j = 0; j < 4096; j++) m.mem.u8[pa + j] = (j * 131 + p * 7) & 0xff;
  }
  boot.userPage(0x7f_f000, PTE_P | PTE_U | PTE_W);
  cpu.cpl = 3;
  cpu.cs = GD_UT;
  cpu.ss = GD_UD;
  cpu.setReg(4, 0x80_0000);
  cpu.updateMmuContext();
  const regs = k.setup(DATA);
  if (k.name === 'crc32') regs[2] = DATA_PAGES * 4096;
  for (const [r, v] of Object.entries(regs)) cpu.setReg(Number(r), v);
  cpu.rip = CODE;

  // Warm up, then measure in slices until the time budget is spent.
  const run = (budget: number): { instr: number; ms: number; cpuMs: number } => {
    const i0 = cpu.instructions;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + budget;
    while (performance.now() < deadline) {
      if (cpu.stopped) {
        // restart the kernel
        cpu.stopped = false;
        for (const [r, v] of Object.entries(regs)) cpu.setReg(Number(r), v);
        cpu.rip = CODE;
      }
      cpu.runUntil(cpu.cycles + 2_000_000);
    }
    const c = process.cpuUsage(c0);
    return { instr: cpu.instructions - i0, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
  run(300);
  const r = run(seconds * 1000);
  const mips = r.instr / r.ms / 1000;
  const cpuMips = r.instr / r.cpuMs / 1000;
  console.log(
    `${k.name.padEnd(6)} ${(r.instr / 1e6).toFixed(1).padStart(8)} M instructions in ${(r.ms / 1000).toFixed(2)} s: ` +
      `${mips.toFixed(1)} M instructions/s (${cpuMips.toFixed(1)} per CPU-second; ${(cpu.cycles / cpu.instructions).toFixed(2)} simulated cycles/instruction)`,
  );
}
