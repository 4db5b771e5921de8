/**
 * Scaffolding for the file-system and misc system-call tests: a temporary host directory as the
 * guest's root, strings and buffers in the scratch area, and `script` — a process made of one
 * native per system call, recording each call's result.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { Cpu } from '../../core/vtx/cpu.js';
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import { Kernel } from '../../core/linux/kernel.js';
import { NR } from '../../core/linux/linux-abi.js';
import { Process } from '../../core/linux/task.js';
import { syscall } from '../../core/linux/user-abi.js';
import { SCRATCH, rax } from './helpers.js';

/** Buffers in the scratch area (pre-faulted by `script`, so natives never restart on them). */
export const BUF = SCRATCH + 0x1000;
export const BUF2 = SCRATCH + 0x5000;
export const PATH = SCRATCH + 0x9000;
export const PATH2 = SCRATCH + 0x9800;
export const SCRATCH_PAGES = 16;
/** An address with nothing mapped. */
export const UNMAPPED = 0x6660_0000;

const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory (removed after the test file). */
export function tempDir(tag = 'root'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `dunesim-${tag}-`));
  made.push(d);
  return d;
}

/** Writes `s` as UTF-8 with a NUL at `va`; returns `va`. */
export function putStr(cpu: Cpu, va: number, s: string): number {
  const b = Buffer.from(s + '\0', 'utf8');
  for (let i = 0; i < b.length; i++) cpu.mmu.write8(va + i, b[i]!);
  return va;
}

export function putBytes(cpu: Cpu, va: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) cpu.mmu.write8(va + i, b[i]!);
  return va;
}

export function getBytes(cpu: Cpu, va: number, n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.max(0, n));
  for (let i = 0; i < out.length; i++) out[i] = cpu.mmu.read8(va + i);
  return out;
}

export function getStr(cpu: Cpu, va: number, n: number): string {
  return Buffer.from(getBytes(cpu, va, n)).toString('utf8');
}

/** A native's body: `r` is the result of the previous step's system call. */
export type Step = (cpu: Cpu, r: number) => void;

/**
 * A process whose natives are `steps`, each ending with one system call; `results[i]` is the
 * result of step i's call. Then exit_group(0). The scratch area is faulted in first.
 */
export function script(k: Kernel, steps: Step[], name = 'script'): { p: Process; results: number[] } {
  const results: number[] = [];
  const p = k.spawn(name, (c: CodeBuilder) => {
    c.op('start', (cpu) => {
      for (let i = 0; i < SCRATCH_PAGES; i++) cpu.mmu.write8(SCRATCH + i * PAGE_SIZE, 0);
    });
    steps.forEach((step, i) => {
      c.op(undefined, (cpu) => {
        const r = rax(cpu);
        if (i > 0) results[i - 1] = r;
        step(cpu, r);
      });
    });
    c.op(undefined, (cpu) => {
      if (steps.length > 0) results[steps.length - 1] = rax(cpu);
      syscall(cpu, NR.exit_group, 0);
    });
    return 'start';
  });
  return { p, results };
}

/** struct stat from user memory, as named fields. */
export function parseStat(b: Uint8Array): Record<string, bigint> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u64 = (o: number): bigint => dv.getBigUint64(o, true);
  const u32 = (o: number): bigint => BigInt(dv.getUint32(o, true));
  return {
    dev: u64(0), ino: u64(8), nlink: u64(16), mode: u32(24), uid: u32(28), gid: u32(32), pad0: u32(36),
    rdev: u64(40), size: u64(48), blksize: u64(56), blocks: u64(64),
    atime: u64(72), atimeNsec: u64(80), mtime: u64(88), mtimeNsec: u64(96), ctime: u64(104), ctimeNsec: u64(112),
    unused0: u64(120), unused1: u64(128), unused2: u64(136),
  };
}

/** What parseStat should give for a host file (fs.statSync with bigint). */
export function expectedStat(s: fs.BigIntStats): Record<string, bigint> {
  const sec = (ns: bigint): bigint => ns / 1_000_000_000n;
  const nsec = (ns: bigint): bigint => ns % 1_000_000_000n;
  return {
    dev: s.dev, ino: s.ino, nlink: s.nlink, mode: s.mode, uid: s.uid, gid: s.gid, pad0: 0n,
    rdev: s.rdev, size: s.size, blksize: s.blksize, blocks: s.blocks,
    atime: sec(s.atimeNs), atimeNsec: nsec(s.atimeNs), mtime: sec(s.mtimeNs), mtimeNsec: nsec(s.mtimeNs),
    ctime: sec(s.ctimeNs), ctimeNsec: nsec(s.ctimeNs), unused0: 0n, unused1: 0n, unused2: 0n,
  };
}
