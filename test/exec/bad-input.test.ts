import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/system/index.js';
import { ElfFile } from '../../core/linux/elf/elf-file.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HELLO = join(ROOT, 'examples', 'guest', 'bin', 'hello');

/** A copy of `hello` whose first instructions at the entry point are `code`. */
function patched(code: number[]): string {
  const bytes = new Uint8Array(readFileSync(HELLO));
  const elf = ElfFile.parse(bytes);
  const seg = elf.loadSegments().find((s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + s.filesz)!;
  bytes.set(code, seg.offset + (elf.entry - seg.vaddr));
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-bad-'));
  const path = join(dir, 'prog');
  writeFileSync(path, bytes);
  return path;
}

function run(path: string, mode: 'linux' | 'dune' = 'linux'): { exitCode: number; messages: string } {
  let messages = '';
  const r = execElf(path, [], { mode, profile: 'dune-e3-1230v2', memory: 256 << 20, console: () => {}, report: (l) => (messages += l) });
  return { exitCode: r.exitCode, messages };
}

describe('exec: hostile or broken programs end as guest signals or loader errors', () => {
  it('an invalid opcode (UD2) is SIGILL: exit status 128 + 4', () => {
    const r = run(patched([0x0f, 0x0b]));
    expect(r.exitCode).toBe(132);
    expect(r.messages).toContain('SIGILL');
  });

  it('a jump to a non-canonical address is #GP, delivered as SIGSEGV (139)', () => {
    // mov rax, 0x8000_0000_0000_0000; jmp rax
    const r = run(patched([0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xe0]));
    expect(r.exitCode).toBe(139);
  });

  it('unbounded recursion exhausts the 8 MiB stack: SIGSEGV', () => {
    const r = run(patched([0xe8, 0xfb, 0xff, 0xff, 0xff])); // call . (itself)
    expect(r.exitCode).toBe(139);
  });

  it('a privileged instruction at CPL 3 (mov cr3, rax) is #GP: SIGSEGV', () => {
    const r = run(patched([0x0f, 0x22, 0xd8]));
    expect(r.exitCode).toBe(139);
  });

  it('in a Dune process, an invalid opcode in guest ring 0 ends it through libDune', () => {
    const r = run(patched([0x0f, 0x0b]), 'dune');
    expect(r.exitCode).not.toBe(0);
  });

  it('the CLI maps a bad file to a loader error (126), a missing one to 127, a bad flag to 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-cli-'));
    try {
      const notElf = join(dir, 'text');
      writeFileSync(notElf, 'hello, world\n');
      const wrongArch = join(dir, 'i386');
      const b = new Uint8Array(readFileSync(HELLO));
      b[18] = 3; // e_machine = EM_386
      writeFileSync(wrongArch, b);
      const cli = (args: string[]): { status: number | null; stderr: string } => {
        const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], { encoding: 'utf8' });
        return { status: r.status, stderr: r.stderr };
      };
      let r = cli(['exec', notElf]);
      expect(r.status).toBe(126);
      expect(r.stderr).toContain('not an ELF file');
      r = cli(['exec', wrongArch]);
      expect(r.status).toBe(126);
      expect(r.stderr).toContain('EM_386');
      r = cli(['exec', join(dir, 'missing')]);
      expect(r.status).toBe(127);
      r = cli(['exec', '--mode', 'vmware', HELLO]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--mode must be linux or dune');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
