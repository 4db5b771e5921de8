/**
 * Segment-register loads at each CPL (SDM Vol. 2B "MOV—Move", Operation, 64-bit mode) and the
 * native-code bridge's binding of a native to its address and CPL: state ring 3 can change must
 * follow the architecture, and a native stub anywhere else is what its bytes are, UD0 (#UD).
 *
 * The boot GDT is libDune's layout: 0x10 kernel code, 0x18 kernel data (DPL 0), 0x28 user data,
 * 0x30 user code (DPL 3), 0x38 the TSS (a system descriptor).
 */
import { describe, expect, it } from 'vitest';
import { CR4_FSGSBASE, CR4_SMEP, FEC_I, FEC_P, PAGE_SIZE, Vector } from '../../core/vtx/arch.js';
import { NATIVE_STUB_LENGTH, NativeEntry } from '../../core/vtx/native-code.js';
import { enterUser, hex, placeKernel, placeUser, reg, runFrom, runKernel, runUser, setup } from './harness.js';

/** mov ax, SEL; mov SREG, ax (SREG by its ModRM reg field: 0 ES, 2 SS, 3 DS, 4 FS, 5 GS). */
function load(sreg: number, sel: number): string {
  const imm = [(sel & 0xff).toString(16).padStart(2, '0'), (sel >> 8).toString(16).padStart(2, '0')].join(' ');
  return `66 b8 ${imm} 8e ${(0xc0 | (sreg << 3)).toString(16)}`;
}
/** mov eax, SREG */
const read = (sreg: number): string => `8c ${(0xc0 | (sreg << 3)).toString(16)}`;

describe('RDFSBASE / RDGSBASE / WRFSBASE / WRGSBASE (SDM Vol. 2D; Vol. 3A §2.5 CR4.FSGSBASE)', () => {
  const RDFSBASE_RAX = 'f3 48 0f ae c0';
  const RDGSBASE_EAX = 'f3 0f ae c8';
  const WRFSBASE_RBX = 'f3 48 0f ae d3';
  const WRGSBASE_RBX = 'f3 48 0f ae db';

  it('with CR4.FSGSBASE clear they are #UD, at any CPL', () => {
    for (const code of [RDFSBASE_RAX, WRFSBASE_RBX]) {
      expect(runUser(code).traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
      expect(runKernel(code).traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
    }
  });

  it('with CR4.FSGSBASE set, ring 3 reads and writes the bases: 64-bit forms whole, the 32-bit read zero-extended', () => {
    const env = setup();
    env.cpu.cr4 |= CR4_FSGSBASE;
    env.cpu.fsBase = -0x1000; // 0xffff_ffff_ffff_f000
    env.cpu.gsBase = 0x7654_3210_9000;
    runUser(`${RDFSBASE_RAX} ${WRFSBASE_RBX}`, { rbx: 0x7000_1234_5678 }, undefined, env);
    expect(env.traps).toEqual([]);
    expect(reg(env.cpu, 'rax')).toBe(0xffff_ffff_ffff_f000n);
    expect(env.cpu.fsBase).toBe(0x7000_1234_5678);
    const env2 = setup();
    env2.cpu.cr4 |= CR4_FSGSBASE;
    env2.cpu.gsBase = 0x7654_3210_9000;
    runUser(RDGSBASE_EAX, { rax: -1 }, undefined, env2);
    expect(reg(env2.cpu, 'rax')).toBe(0x3210_9000n);
  });

  it('a non-canonical base is #GP(0) and nothing is written', () => {
    const env = setup();
    env.cpu.cr4 |= CR4_FSGSBASE;
    env.cpu.gsBase = 0x4000;
    runUser(WRGSBASE_RBX, { rbx: 0x8000_0000_0000 }, undefined, env);
    expect(env.traps.map((t) => [t.vector, t.errorCode])).toEqual([[Vector.GeneralProtection, 0]]);
    expect(env.cpu.gsBase).toBe(0x4000);
  });
});

describe('MOV to a segment register at CPL 3', () => {
  it('the user data selector (0x2b) loads into DS, ES, FS and GS and reads back; FS/GS take the descriptor base (0)', () => {
    for (const sreg of [0, 3, 4, 5]) {
      const env = setup();
      env.cpu.fsBase = 0x1234_5000;
      env.cpu.gsBase = 0x1234_5000;
      runUser(`${load(sreg, 0x2b)} ${read(sreg)}`, {}, undefined, env);
      expect(env.traps).toEqual([]);
      expect(reg(env.cpu, 'rax')).toBe(0x2bn);
      if (sreg === 4) expect(env.cpu.fsBase).toBe(0);
      if (sreg === 5) expect(env.cpu.gsBase).toBe(0);
    }
  });

  it('a null selector is accepted and clears the FS/GS base (Intel; AMD keeps it)', () => {
    const env = setup();
    env.cpu.gsBase = 0xdead_b000;
    runUser(load(5, 0), {}, undefined, env);
    expect(env.traps).toEqual([]);
    expect(env.cpu.gsBase).toBe(0);
  });

  it('the kernel data segment (RPL 3 > DPL 0), the TSS (a system descriptor), an LDT selector and one past the GDT limit are #GP(selector index)', () => {
    for (const [sel, err] of [[0x1b, 0x18], [0x18, 0x18], [0x3b, 0x38], [0x2f, 0x28], [0xfff8, 0xfff8]] as const) {
      const env = setup();
      env.cpu.gsBase = 0x4000;
      runUser(load(5, sel), {}, undefined, env);
      expect(env.traps.map((t) => [t.vector, t.errorCode]), `selector 0x${sel.toString(16)}`).toEqual([[Vector.GeneralProtection, err]]);
      expect(env.cpu.gsBase).toBe(0x4000); // nothing loaded
    }
  });

  it('a null SS at CPL 3 is #GP(0); a user code selector in SS is #GP(selector)', () => {
    let env = runUser(load(2, 0));
    expect(env.traps.map((t) => [t.vector, t.errorCode])).toEqual([[Vector.GeneralProtection, 0]]);
    env = runUser(load(2, 0x33));
    expect(env.traps.map((t) => [t.vector, t.errorCode])).toEqual([[Vector.GeneralProtection, 0x30]]);
  });
});

describe('MOV to a segment register at CPL 0', () => {
  it('the kernel data selector loads; a null SS with RPL 0 is allowed in 64-bit mode', () => {
    const env = runKernel(`${load(3, 0x18)} ${load(2, 0)} ${read(3)}`);
    expect(env.traps).toEqual([]);
    expect(reg(env.cpu, 'rax')).toBe(0x18n);
    expect(env.cpu.ss).toBe(0);
  });
});

/** The 7 bytes of a native's stub, as guest code could copy them. */
function stubOf(env: ReturnType<typeof setup>, entry: NativeEntry): Uint8Array {
  const b = new Uint8Array(NATIVE_STUB_LENGTH);
  env.m.natives.writeStub(b, 0, entry);
  return b;
}

describe('the native-code bridge: a native runs only where it was bound, at its CPL', () => {
  it('a copy of a native\'s stub at another address is UD0: #UD, and the native does not run', () => {
    const env = setup();
    let ran = 0;
    const at = env.boot.native('secret', () => void ran++);
    const entry = env.m.natives.entries.find((e) => e.name === 'secret')!;
    expect(entry.pa).toBe(env.boot.pa(at)); // bound where boot.native placed it
    const copy = stubOf(env, entry);
    const p = placeKernel(env, copy);
    runFrom(env, p.va);
    expect(ran).toBe(0);
    expect(env.traps.map((t) => [t.vector, t.rip])).toEqual([[Vector.InvalidOpcode, p.va]]);
  });

  it('a ring-0 native reached from ring 3 (through a user mapping of its own frame) is #UD; at CPL 0 it runs', () => {
    const env = setup();
    let ran = 0;
    env.boot.native('kernel-only', () => void ran++);
    const entry = env.m.natives.entries.find((e) => e.name === 'kernel-only')!;
    const frame = entry.pa - (entry.pa % PAGE_SIZE);
    // Map the native's frame into user space (what no kernel would do, but the CPL check must hold).
    env.boot.pt.map(0x50_0000, frame, 0x5 /* P|U */, 0);
    enterUser(env);
    runFrom(env, 0x50_0000 + (entry.pa % PAGE_SIZE));
    expect(ran).toBe(0);
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
  });

  it('once the frame holding a native is freed, the native is dead: the same stub in the frame\'s next owner is #UD', () => {
    const env = setup();
    let ran = 0;
    const pa = env.m.frames.alloc();
    const entry = env.m.natives.register('transient', () => void ran++, 1, 3);
    env.m.natives.install(env.m.mem, pa, entry);
    env.m.frames.put(pa); // the last reference goes: the frame is free
    expect(entry.pa).toBe(-2);
    // The next allocation reuses it (zeroed); a ring-3 program writes the stub back at the same address.
    const again = env.m.frames.alloc();
    expect(again).toBe(pa);
    env.boot.pt.map(0x50_0000, again, 0x7 /* P|W|U */, 0);
    env.m.mem.writeBytes(again, stubOf(env, entry));
    enterUser(env);
    runFrom(env, 0x50_0000);
    expect(ran).toBe(0);
    expect(env.traps.map((t) => t.vector)).toEqual([Vector.InvalidOpcode]);
  });

  it('a native registered for ring 3 runs there and falls through to the next instruction', () => {
    const env = setup();
    let ran = 0;
    const pa = env.m.frames.alloc();
    const entry = env.m.natives.register('user-native', () => void ran++, 1, 3);
    env.m.natives.install(env.m.mem, pa, entry);
    env.boot.pt.map(0x50_0000, pa, 0x5, 0);
    const stop = env.m.natives.register('user-stop', (c) => c.stop(), 1, 3);
    env.m.natives.install(env.m.mem, pa + NATIVE_STUB_LENGTH, stop);
    enterUser(env);
    runFrom(env, 0x50_0000);
    expect(ran).toBe(1);
    expect(env.traps).toEqual([]);
  });
});

describe('CR4.SMEP (SDM Vol. 3A §4.6.1)', () => {
  it('ring 0 fetching from a user page is a #PF with P|I when SMEP is set, and runs when it is clear', () => {
    for (const smep of [false, true]) {
      const env = setup();
      const p = placeUser(env, hex('90 90')); // nop; nop, then the stop native (registered for ring 3)
      env.cpu.writeCr(4, (env.cpu.cr4 | (smep ? CR4_SMEP : 0)) >>> 0, 0);
      runFrom(env, p.va);
      if (smep) {
        expect(env.traps.map((t) => [t.vector, t.errorCode, t.cr2])).toEqual([[Vector.PageFault, FEC_P | FEC_I, p.va]]);
      } else {
        // The nops ran in ring 0; the stop stub is a ring-3 native, so at CPL 0 it is UD0.
        expect(env.traps.map((t) => [t.vector, t.rip])).toEqual([[Vector.InvalidOpcode, p.va + 2]]);
      }
    }
  });
});
