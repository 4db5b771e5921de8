/**
 * Integer core: control flow, the stack, addressing forms, string instructions, divide errors,
 * invalid opcodes, privilege checks, lazy flags at the boundaries (faults, SYSCALL), and 64-bit
 * multiply/divide against BigInt. Snippets were assembled with GNU as (Intel syntax), shown next
 * to each.
 */
import { describe, expect, it } from 'vitest';
import { MSR_LSTAR, RFLAGS_CF, RFLAGS_DF, RFLAGS_FIXED, RFLAGS_ZF, Vector } from '../../core/vtx/arch.js';
import { RCX, R11 } from '../../core/vtx/cpu.js';
import {
  USER_DATA, enterUser, hex, placeKernel, placeUser, reg, runFrom, runKernel, runUser, setRegs, setup, userData,
} from './harness.js';

const M64 = (1n << 64n) - 1n;

describe('control flow and the stack', () => {
  it('LOOP sums 100..1', () => {
    // xor eax,eax; mov ecx,100; l: add eax,ecx; loop l
    const env = runUser('31c0b96400000001c8e2fc');
    expect(reg(env.cpu, 'rax')).toBe(5050n);
    expect(reg(env.cpu, 'rcx')).toBe(0n);
  });

  it('DEC/JNZ loop and SETE', () => {
    // mov ecx,10; xor eax,eax; l: add eax,2; dec ecx; jnz l; cmp eax,20; sete bl
    const env = runUser('b90a00000031c083c002ffc975f983f8140f94c3');
    expect(reg(env.cpu, 'rax')).toBe(20n);
    expect(reg(env.cpu, 'rbx')).toBe(1n);
  });

  it('CALL/RET', () => {
    // call f; add eax,1; jmp e; f: mov eax,41; ret; e: nop
    const env = runUser('e80500000083c001eb06b829000000c390');
    expect(reg(env.cpu, 'rax')).toBe(42n);
    expect(reg(env.cpu, 'rsp')).toBe(0x80_0000n);
  });

  it('PUSH/POP, ENTER/LEAVE', () => {
    // push rbp; mov rbp,rsp; push 0x1234; pop rax; leave; enter 16,0; mov rbx,rsp; leave
    const env = runUser('554889e5683412000058c9c81000004889e3c9', { rbp: 0x77 });
    expect(reg(env.cpu, 'rax')).toBe(0x1234n);
    expect(reg(env.cpu, 'rbx')).toBe(0x80_0000n - 8n - 16n);
    expect(reg(env.cpu, 'rbp')).toBe(0x77n);
    expect(reg(env.cpu, 'rsp')).toBe(0x80_0000n);
  });

  it('ENTER with a nesting level copies frame pointers', () => {
    // enter 32, 2
    const env = runUser('c8200002', { rbp: 0x7f_f800 });
    const sp = 0x80_0000;
    // [sp-8] = old rbp, [sp-16] = copy of [rbp-8], [sp-24] = frame
    expect(reg(env.cpu, 'rbp')).toBe(BigInt(sp - 8));
    expect(reg(env.cpu, 'rsp')).toBe(BigInt(sp - 24 - 32));
    expect(env.cpu.mmu.read64Number(sp - 24)).toBe(sp - 8);
  });

  it('RIP-relative loads', () => {
    // mov rax,[rip+d]; jmp e; d: .quad 0x1122334455667788; e: nop
    const env = runUser('488b0502000000eb08887766554433221190');
    expect(reg(env.cpu, 'rax')).toBe(0x1122334455667788n);
  });

  it('FS and GS overrides add the segment bases', () => {
    const env = setup();
    const pa = userData(env);
    env.m.mem.write64(pa + 8, 0xaaaa, 0xbbbb);
    env.m.mem.write64(pa + 0x30, 0xcccc, 0xdddd);
    env.cpu.fsBase = USER_DATA;
    env.cpu.gsBase = USER_DATA + 0x20;
    // mov rax, fs:[8]; mov rbx, gs:[0x10]
    runUser('64488b04250800000065488b1c2510000000', {}, RFLAGS_FIXED, env);
    expect(reg(env.cpu, 'rax')).toBe(0xbbbb_0000_aaaan);
    expect(reg(env.cpu, 'rbx')).toBe(0xdddd_0000_ccccn);
  });

  it('a non-canonical jump target faults with #GP(0) on the fetch', () => {
    // mov rax, 0x800000000000; jmp rax
    const env = runUser('48b80000000000800000ffe0');
    expect(env.traps.map((t) => [t.vector, t.errorCode])).toEqual([[Vector.GeneralProtection, 0]]);
  });

  it('single-steps with cpu.step() and batches only below the limit', () => {
    const env = setup();
    // mov ecx,10; xor eax,eax; l: add eax,2; dec ecx; jnz l; ...
    const p = placeUser(env, hex('b90a00000031c083c002ffc975f983f8140f94c3'));
    enterUser(env);
    const cpu = env.cpu;
    cpu.rip = p.va;
    cpu.step();
    expect(cpu.instructions).toBe(1);
    expect(reg(cpu, 'rcx')).toBe(10n);
    cpu.step();
    cpu.step();
    expect(cpu.instructions).toBe(3);
    const perInstr = cpu.costs.instruction;
    cpu.runUntil(cpu.cycles + 5 * perInstr);
    expect(cpu.instructions).toBe(8);
  });
});

describe('string instructions', () => {
  it('REP MOVSQ backwards with DF=1', () => {
    const env = setup();
    const pa = userData(env);
    for (let i = 0; i < 8; i++) env.m.mem.write64(pa + 8 * i, 100 + i, 0);
    // std; mov rcx,4; rep movsq; cld
    runUser('fd48c7c104000000f348a5fc', { rsi: USER_DATA + 24, rdi: USER_DATA + 0x100 + 24 }, RFLAGS_FIXED, env);
    expect([0, 1, 2, 3].map((i) => env.m.mem.read32(pa + 0x100 + 8 * i))).toEqual([100, 101, 102, 103]);
    expect(reg(env.cpu, 'rsi')).toBe(BigInt(USER_DATA - 8));
    expect(env.cpu.rflags & RFLAGS_DF).toBe(0);
  });

  it('REPNE SCASB computes strlen', () => {
    const env = setup();
    const pa = userData(env);
    env.m.mem.writeBytes(pa, new TextEncoder().encode('hello, world\0'));
    // mov rcx,-1; xor eax,eax; repne scasb; not rcx; dec rcx
    runUser('48c7c1ffffffff31c0f2ae48f7d148ffc9', { rdi: USER_DATA }, RFLAGS_FIXED, env);
    expect(reg(env.cpu, 'rcx')).toBe(12n);
  });

  it('REP STOSB longer than one chunk', () => {
    const env = setup();
    const pa = userData(env, USER_DATA, 80);
    // rep stosb
    runUser('f3aa', { rdi: USER_DATA + 3, rcx: 300_000, rax: 0x5a }, RFLAGS_FIXED, env);
    expect(reg(env.cpu, 'rcx')).toBe(0n);
    expect(env.m.mem.u8[pa + 2]).toBe(0);
    expect(env.m.mem.u8[pa + 3]).toBe(0x5a);
    const w = env.cpu.mmu.debugWalk(USER_DATA + 3 + 299_999);
    expect(env.m.mem.u8[w.pa]).toBe(0x5a);
    expect(env.m.mem.u8[w.pa + 1]).toBe(0);
  });

  it('a fault inside REP MOVSB leaves the registers at the element that faulted', () => {
    const env = setup();
    userData(env); // one page only: the copy runs off its end
    // rep stosb
    runUser('f3aa', { rdi: USER_DATA + 4090, rcx: 100, rax: 1 }, RFLAGS_FIXED, env);
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.PageFault]);
    expect(env.traps[0]!.cr2).toBe(USER_DATA + 4096);
    expect(reg(env.cpu, 'rcx')).toBe(94n);
    expect(reg(env.cpu, 'rdi')).toBe(BigInt(USER_DATA + 4096));
  });
});

describe('exceptions raised by instructions', () => {
  it('#DE on divide by zero and on quotient overflow, at the DIV', () => {
    let env = runUser('48f7f1', { rax: 5, rcx: 0 }); // div rcx
    expect(env.traps.map((t) => [t.vector, t.rip])).toEqual([[Vector.DivideError, 0x40_0000]]);
    env = runUser('48f7f9', { rax: 0n, rdx: -1n, rcx: 0 }); // idiv rcx by 0
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.DivideError]);
    env = runUser('48f7f9', { rax: 1n << 63n, rdx: -1n, rcx: -1n }); // INT64_MIN / -1
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.DivideError]);
    env = runUser('48f7f1', { rax: 0, rdx: 7, rcx: 7 }); // quotient >= 2^64
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.DivideError]);
  });

  it('#UD for UD2 and for opcodes invalid in 64-bit mode', () => {
    expect(runUser('0f0b').traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
    expect(runUser('06').traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
    expect(runUser('c5f877').traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
    expect(runUser('f001c0').traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]); // lock add eax,eax
    expect(runUser('f03bc0').traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]); // lock cmp
  });

  it('privileged instructions raise #GP(0) at CPL 3', () => {
    for (const code of ['f4', '0f20d8', 'fa', '0f01f8', '0f30', '0f32', '0f0138']) {
      const env = runUser(code);
      expect(env.traps.map((t) => [t.vector, t.errorCode]), code).toEqual([[Vector.GeneralProtection, 0]]);
    }
  });

  it('IN/OUT raise #GP(0) at CPL 3 with IOPL 0, and run with IOPL 3', () => {
    expect(runUser('e460').traps.map((t) => [t.vector, t.errorCode])).toEqual([[Vector.GeneralProtection, 0]]);
    expect(runUser('ee').traps.map((t) => t.vector)).toEqual([Vector.GeneralProtection]);
    const env = runUser('e460', { rax: 0 }, RFLAGS_FIXED | (3 << 12));
    expect(env.traps).toEqual([]);
    expect(reg(env.cpu, 'rax')).toBe(0xffn);
  });

  it('a fault delivers the flags of the last completed instruction (lazy flags written back)', () => {
    // cmp eax,ebx; mov [rcx],rax   (rcx unmapped: #PF)
    const env = runUser('39d8488901', { rax: 1, rbx: 2, rcx: 0x1000 });
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.PageFault]);
    const f = env.traps[0]!.rflags;
    expect(f & RFLAGS_CF).toBe(RFLAGS_CF); // 1 - 2 borrows
    expect(f & RFLAGS_ZF).toBe(0);
  });

  it('an instruction that faults on its store leaves the previous flags', () => {
    const env = setup();
    // cmp eax,eax (ZF=1); add [rcx], eax  (read-only page: the store faults)
    const pa = env.boot.userPage(0x90_0000, 0x5); // P | U, read-only
    env.m.mem.write32(pa, 0x10);
    runUser('39c00101', { rax: 1, rcx: 0x90_0000 }, RFLAGS_FIXED, env);
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.PageFault]);
    expect(env.traps[0]!.rflags & RFLAGS_ZF).toBe(RFLAGS_ZF);
    expect(env.m.mem.read32(pa)).toBe(0x10);
  });
});

describe('delegation to the CPU', () => {
  it('SYSCALL sees the materialised flags in R11 and the next RIP in RCX', () => {
    const env = setup();
    let r11 = -1;
    let rcx = -1;
    const handler = env.boot.native('lstar', (c) => {
      r11 = c.lo[R11]!;
      rcx = c.reg(RCX);
      c.stop();
    });
    env.cpu.wrmsr(MSR_LSTAR, handler >>> 0, Math.floor(handler / 2 ** 32) >>> 0);
    const p = placeUser(env, hex('39c00f05')); // cmp eax,eax; syscall
    enterUser(env);
    runFrom(env, p.va);
    expect(r11 & RFLAGS_ZF).toBe(RFLAGS_ZF);
    expect(rcx).toBe(p.va + 4);
    expect(env.cpu.cpl).toBe(0);
  });

  it('CPUID, RDTSC, RDMSR/WRMSR, MOV CR, SWAPGS in ring 0', () => {
    const env = runKernel('31c00fa2'); // xor eax,eax; cpuid
    expect(Number(reg(env.cpu, 'rbx'))).toBe(0x756e_6547); // "Genu"
    const t = runKernel('0f31'); // rdtsc
    expect(Number(reg(t.cpu, 'rax')) + Number(reg(t.cpu, 'rdx')) * 2 ** 32).toBeGreaterThan(0);
    const c3 = runKernel('0f20d8'); // mov rax, cr3
    expect(Number(reg(c3.cpu, 'rax'))).toBe(c3.cpu.cr3);
    // wrmsr FS_BASE then rdmsr it back
    const e = setup();
    setRegs(e.cpu, { rcx: 0xc000_0100, rax: 0x1234_5000, rdx: 0x7f });
    const p = placeKernel(e, hex('0f30' + '31c0' + '31d2' + '0f32')); // wrmsr; xor eax,eax; xor edx,edx; rdmsr
    runFrom(e, p.va);
    expect(e.cpu.fsBase).toBe(0x7f_1234_5000);
    expect(reg(e.cpu, 'rax')).toBe(0x1234_5000n);
    expect(reg(e.cpu, 'rdx')).toBe(0x7fn);
  });

  it('INT n goes through the IDT with the return address after the instruction', () => {
    const env = setup();
    let frameRip = 0;
    const h = env.boot.native('int80', (c) => {
      frameRip = c.mmu.read64Number(c.rsp);
      c.stop();
    });
    env.boot.gate(0x80, h, { dpl: 3 });
    const p = placeUser(env, hex('cd80'));
    enterUser(env);
    runFrom(env, p.va);
    expect(frameRip).toBe(p.va + 2);
  });
});

describe('self-modifying code', () => {
  it('a store into the next instruction is seen when it executes', () => {
    // mov byte ptr [rip+t+1], 0x2a; t: mov eax, 7
    const env = runUser('c605010000002ab807000000');
    expect(reg(env.cpu, 'rax')).toBe(0x2an);
  });

  it('a store into an already executed (cached) loop body takes effect', () => {
    const env = setup();
    // l: mov eax, 1 ; add ebx, eax ; cmp ebx, 3 ; jne skip ; mov byte ptr [rip + l - $ - 7 + 1], 5  ... (built below)
    // Layout: 0: b8 01000000        mov eax, 1
    //         5: 01 c3              add ebx, eax
    //         7: 83 fb 03           cmp ebx, 3
    //        10: 75 07              jne 19
    //        12: c6 05 xx xx xx xx 05   mov byte [rip+disp], 5  → byte 1 of insn 0
    //        19: 83 fb 14           cmp ebx, 20
    //        22: 72 e8              jb 0
    const disp = (1 - 19) >>> 0;
    const d = [disp & 0xff, (disp >>> 8) & 0xff, (disp >>> 16) & 0xff, disp >>> 24].map((x) => x.toString(16).padStart(2, '0')).join('');
    const code = hex(`b801000000 01c3 83fb03 7507 c605${d}05 83fb14 72e8`);
    const p = placeUser(env, code);
    enterUser(env);
    runFrom(env, p.va);
    // ebx: 1, 2, 3 (patch) then +5 each: 8, 13, 18, 23
    expect(reg(env.cpu, 'rbx')).toBe(23n);
    expect(env.it.cache.invalidated).toBeGreaterThan(0);
  });

  it('host writes (loader) replace cached instructions', () => {
    const env = setup();
    const p = placeKernel(env, hex('b801000000')); // mov eax, 1
    runFrom(env, p.va);
    expect(reg(env.cpu, 'rax')).toBe(1n);
    env.m.mem.writeBytes(p.pa, hex('b802000000'));
    runFrom(env, p.va);
    expect(reg(env.cpu, 'rax')).toBe(2n);
  });
});

describe('64-bit multiply and divide against BigInt', () => {
  let seed = 12345;
  const rnd = (): bigint => {
    let v = 0n;
    for (let i = 0; i < 4; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      v = (v << 16n) | BigInt(seed >>> 16);
    }
    const shape = seed % 4;
    return shape === 0 ? v >> BigInt(seed % 60) : v;
  };
  const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);

  it('MUL/IMUL/DIV/IDIV r64 on random operands', () => {
    const env = setup();
    const code = placeKernel(env, hex('48f7e1')); // mul rcx
    const imul = placeKernel(env, hex('48f7e9')); // imul rcx
    const imul2 = placeKernel(env, hex('480fafc1')); // imul rax, rcx
    const div = placeKernel(env, hex('48f7f1')); // div rcx
    const idiv = placeKernel(env, hex('48f7f9')); // idiv rcx
    for (let n = 0; n < 300; n++) {
      const a = rnd();
      const b = rnd() | 1n;
      setRegs(env.cpu, { rax: a, rcx: b, rdx: 0 });
      runFrom(env, code.va);
      expect((reg(env.cpu, 'rdx') << 64n) | reg(env.cpu, 'rax')).toBe(a * b);
      setRegs(env.cpu, { rax: a, rcx: b });
      runFrom(env, imul.va);
      expect(BigInt.asIntN(128, (reg(env.cpu, 'rdx') << 64n) | reg(env.cpu, 'rax'))).toBe(s64(a) * s64(b));
      setRegs(env.cpu, { rax: a, rcx: b });
      runFrom(env, imul2.va);
      expect(reg(env.cpu, 'rax')).toBe((s64(a) * s64(b)) & M64);
      const hiPart = rnd() % b;
      setRegs(env.cpu, { rax: a, rdx: hiPart, rcx: b });
      runFrom(env, div.va);
      const num = (hiPart << 64n) | a;
      expect(reg(env.cpu, 'rax')).toBe(num / b);
      expect(reg(env.cpu, 'rdx')).toBe(num % b);
      // idiv: a sign-extended 64-bit dividend
      setRegs(env.cpu, { rax: a, rdx: s64(a) < 0n ? -1n : 0n, rcx: b });
      runFrom(env, idiv.va);
      expect(s64(reg(env.cpu, 'rax'))).toBe(s64(a) / s64(b));
      expect(s64(reg(env.cpu, 'rdx'))).toBe(s64(a) % s64(b));
    }
    expect(env.traps).toEqual([]);
  });
});
