import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execElf } from '../../core/system/index.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { PhysicalMemory } from '../../core/vtx/physical-memory.js';
import { FrameAllocator } from '../../core/vtx/frame-allocator.js';
import { AddressSpace } from '../../core/linux/address-space.js';
import { PageTables } from '../../core/vtx/page-tables.js';
import { Vma } from '../../core/linux/vma.js';
import { NR, PROT_READ, PROT_WRITE } from '../../core/linux/linux-abi.js';
import { formatSyscall, futexOp, hex64, openFlags, quoteBytes } from '../../core/linux/strace-format.js';

const FILEIO = join(ROOT, 'examples', 'guest', 'bin', 'fileio');
const hasStrace = spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0;

/** What differs between two runs of the same program for reasons that are not the trace's: addresses, the pid. */
function normalise(lines: string[]): string[] {
  return lines
    .filter((l) => !l.startsWith('execve(')) // the model's loader is not a traced execve
    .map((l) => l.replace(/\s+= /, ' = ').replace(/0x[0-9a-f]+/g, '0x…').replace(/^(set_tid_address\(.*\)) = \d+$/, '$1 = PID'));
}

function modelTrace(root: string): { lines: string[]; cycles: number } {
  const lines: string[] = [];
  const r = execElf(FILEIO, [], { mode: 'linux', profile: 'dune-e3-1230v2', memory: 64 << 20, root, console: () => {}, report: () => {}, strace: (l) => lines.push(l.replace(/^\d+ /, '')) });
  expect(r.exitCode).toBe(0);
  return { lines, cycles: r.stats.cycles as number };
}

describe('--strace prints calls as strace does', () => {
  it.skipIf(!hasStrace)('the same binary traced natively by strace(1) and in the model: the same lines, but for addresses and the pid', () => {
    const a = mkdtempSync(join(tmpdir(), 'dunesim-strace-native-'));
    const b = mkdtempSync(join(tmpdir(), 'dunesim-strace-model-'));
    try {
      // strace writes its trace to stderr, the program's own stderr too (fileio writes none).
      const native = spawnSync('strace', ['-qq', FILEIO], { cwd: a, encoding: 'utf8' });
      expect(native.status, native.stderr).toBe(0);
      const expected = normalise(native.stderr.trimEnd().split('\n'));
      const got = normalise(modelTrace(b).lines);
      expect(got).toEqual(expected);
      // Strings from guest memory, flags by name, signed offsets, errors by name.
      expect(got).toContain('lseek(3, -3, SEEK_END) = 32');
      expect(got).toContain('open("dunesim-fileio-a.txt", O_RDWR|O_CREAT|O_TRUNC|O_LARGEFILE, 0644) = 3');
      expect(got).toContain('read(3, "e.\\n", 128) = 3');
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('tracing changes nothing the guest can see: the same cycles with and without it', () => {
    const b = mkdtempSync(join(tmpdir(), 'dunesim-strace-'));
    try {
      const traced = modelTrace(b).cycles;
      const r = execElf(FILEIO, [], { mode: 'linux', profile: 'dune-e3-1230v2', memory: 64 << 20, root: b, console: () => {}, report: () => {} });
      expect(r.stats.cycles).toBe(traced);
    } finally {
      rmSync(b, { recursive: true, force: true });
    }
  });
});

describe('strace-format', () => {
  // A small address space with one page of data at 0x10000.
  const mem = new PhysicalMemory(4 << 20);
  const frames = new FrameAllocator(mem);
  const kernelPml4 = new PageTables(mem, frames).root;
  const mm = new AddressSpace(mem, frames, kernelPml4);
  const frame = frames.alloc();
  mm.mapPage(0x10000, frame, new Vma(0x10000, 0x11000, PROT_READ | PROT_WRITE, 0, 'test'), true);
  const text = new TextEncoder().encode('/etc/passwd\0');
  mem.u8.set(text, frame);
  const m = { mem, mm };

  it('names every system call of the x86-64 table, implemented or not', () => {
    expect(formatSyscall(m, 157, [15, 0, 0], -38)).toBe('prctl(0xf, 0x0, 0x0, …) = -1 ENOSYS (Function not implemented) (not implemented in the model)');
    expect(formatSyscall(m, 400, [0, 0, 0], -38)).toMatch(/^syscall_400\(/);
  });

  it('signed offsets and ints, unsigned sizes, pointers and NULL, path strings from guest memory', () => {
    expect(formatSyscall(m, NR.lseek, [3, -3, 2], 10)).toBe('lseek(3, -3, SEEK_END) = 10');
    expect(formatSyscall(m, NR.openat, [-100, 0x10000, 0o2000000, 0], -2)).toBe('openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)');
    // A path that is not mapped is shown as its pointer; reading it faults nothing in.
    expect(formatSyscall(m, NR.open, [0x20000, 0, 0], -14)).toBe('open(0x20000, O_RDONLY) = -1 EFAULT (Bad address)');
    expect(mm.frameAt(0x20000)).toBeUndefined();
    expect(formatSyscall(m, NR.mmap, [0, 8192, 3, 0x22, -1, 0], 0x7fff_f7ff_d000)).toBe('mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffd000');
    // size_t with the top bit set (the model's negative 64-bit value) is the register in hex.
    expect(formatSyscall(m, NR.write, [1, 0, -1], -14)).toBe('write(1, NULL, 0xffffffffffffffff) = -1 EFAULT (Bad address)');
    expect(formatSyscall(m, NR.kill, [1, 9], 0)).toBe('kill(1, SIGKILL) = 0');
    expect(formatSyscall(m, NR.exit_group, [3], 0)).toBe('exit_group(3) = ?');
    expect(formatSyscall(m, NR.rt_sigprocmask, [0, 0, 0, 8], -512)).toBe('rt_sigprocmask(SIG_BLOCK, NULL, NULL, 8) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)');
  });

  it('buffers as strace quotes them: C escapes, octal, 32 bytes then ...', () => {
    expect(quoteBytes(new Uint8Array([0x41, 0x0a, 0x22, 0x5c, 0x00, 0x31, 0x1b]), 32)).toBe('"A\\n\\"\\\\\\0001\\33"');
    expect(quoteBytes(new Uint8Array(40).fill(0x61), 32)).toBe(`"${'a'.repeat(32)}"...`);
    expect(hex64(-1)).toBe('0xffffffffffffffff');
    expect(hex64(-0x1000)).toBe('0xfffffffffffff000');
    expect(openFlags(0o101 | 0o1000)).toBe('O_WRONLY|O_CREAT|O_TRUNC');
    expect(futexOp(128)).toBe('FUTEX_WAIT_PRIVATE');
    expect(futexOp(1 | 128)).toBe('FUTEX_WAKE_PRIVATE');
    // pthread_create's clone (musl): the thread flags by name, as strace prints them.
    expect(formatSyscall(m, NR.clone, [0x7d0f00, 0x10000, 0x10000, 0x10000, 0x10000], 2)).toMatch(
      /^clone\(CLONE_VM\|CLONE_FS\|CLONE_FILES\|CLONE_SIGHAND\|CLONE_THREAD\|CLONE_SYSVSEM\|CLONE_SETTLS\|CLONE_PARENT_SETTID\|CLONE_CHILD_CLEARTID\|CLONE_DETACHED, 0x10000, /,
    );
  });
});
