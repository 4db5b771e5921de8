/**
 * Hostile programs for the containment tests: a copy of examples/guest/bin/hello whose entry point
 * is overwritten with a few x86-64 instructions (as test/exec/bad-input.test.ts does), assembled
 * here by hand — enough of an assembler for moves, system calls and strings.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElfFile } from '../../core/linux/elf/elf-file.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'examples', 'guest', 'bin');
export const HELLO = join(BIN, 'hello');

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R8 = 8, R9 = 9, R10 = 10;

function le(v: bigint, n: number): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(n * 8, v);
  for (let i = 0; i < n; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

/** A tiny assembler: code first, then NUL-terminated strings reached with RIP-relative LEA. */
export class Asm {
  private readonly code: number[] = [];
  private readonly strings: Array<{ name: string; bytes: number[] }> = [];
  private readonly fixups: Array<{ at: number; name: string }> = [];
  private readonly labels = new Map<string, number>();
  private readonly jumps: Array<{ at: number; label: string }> = [];

  /** MOV r64, imm64 (REX.W B8+r). */
  mov(reg: number, v: number | bigint): this {
    this.code.push(0x48 | (reg >= 8 ? 1 : 0), 0xb8 + (reg & 7), ...le(BigInt(v), 8));
    return this;
  }

  /** MOV r64, r64 (REX.W 89 /r). */
  movReg(dst: number, src: number): this {
    this.code.push(0x48 | (src >= 8 ? 4 : 0) | (dst >= 8 ? 1 : 0), 0x89, 0xc0 | ((src & 7) << 3) | (dst & 7));
    return this;
  }

  /** SUB r64, imm32. */
  sub(reg: number, imm: number): this {
    this.code.push(0x48 | (reg >= 8 ? 1 : 0), 0x81, 0xe8 | (reg & 7), ...le(BigInt(imm), 4));
    return this;
  }

  /** LEA r64, [rip + string]. */
  lea(reg: number, name: string): this {
    this.code.push(0x48 | (reg >= 8 ? 4 : 0), 0x8d, 0x05 | ((reg & 7) << 3));
    this.fixups.push({ at: this.code.length, name });
    this.code.push(0, 0, 0, 0);
    return this;
  }

  /** A system call: number and up to six arguments (numbers, bigints, or a register to copy). */
  sys(nr: number, ...args: Array<number | bigint | { reg: number } | { str: string }>): this {
    const regs = [RDI, RSI, RDX, R10, R8, R9];
    args.forEach((a, i) => {
      if (typeof a === 'object' && 'reg' in a) this.movReg(regs[i]!, a.reg);
      else if (typeof a === 'object' && 'str' in a) this.lea(regs[i]!, a.str);
      else this.mov(regs[i]!, a);
    });
    this.mov(RAX, nr);
    return this.raw(0x0f, 0x05);
  }

  /** exit_group(-RAX): the errno of the last call becomes the exit status (0 stays 0). */
  exitWithErrno(): this {
    return this.raw(0x48, 0x89, 0xc7, 0x48, 0xf7, 0xdf).mov(RAX, 231).raw(0x0f, 0x05);
  }

  /** exit_group(RAX). */
  exitWithResult(): this {
    return this.raw(0x48, 0x89, 0xc7).mov(RAX, 231).raw(0x0f, 0x05);
  }

  label(name: string): this {
    this.labels.set(name, this.code.length);
    return this;
  }

  /** JNZ rel32 to a label. */
  jnz(label: string): this {
    this.code.push(0x0f, 0x85);
    this.jumps.push({ at: this.code.length, label });
    this.code.push(0, 0, 0, 0);
    return this;
  }

  raw(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  string(name: string, s: string): this {
    this.strings.push({ name, bytes: [...new TextEncoder().encode(s), 0] });
    return this;
  }

  bytes(): number[] {
    const out = [...this.code];
    const at = new Map<string, number>();
    for (const s of this.strings) {
      at.set(s.name, out.length);
      out.push(...s.bytes);
    }
    for (const f of this.fixups) out.splice(f.at, 4, ...le(BigInt(at.get(f.name)! - (f.at + 4)), 4));
    for (const j of this.jumps) out.splice(j.at, 4, ...le(BigInt(this.labels.get(j.label)! - (j.at + 4)), 4));
    return out;
  }
}

/** A copy of `hello` whose first instructions at the entry point are `code`; returns its path. */
export function patched(code: number[] | Asm): string {
  const bytes = new Uint8Array(readFileSync(HELLO));
  const elf = ElfFile.parse(bytes);
  const seg = elf.loadSegments().find((s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + s.filesz)!;
  const b = code instanceof Asm ? code.bytes() : code;
  if (elf.entry + b.length > seg.vaddr + seg.filesz) throw new Error('hostile program too long for the text segment');
  bytes.set(b, seg.offset + (elf.entry - seg.vaddr));
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-hostile-'));
  const path = join(dir, 'prog');
  writeFileSync(path, bytes);
  return path;
}
