import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/system/exec-elf.js';
import type { Kernel } from '../../core/linux/kernel.js';
import { X86Interpreter } from '../../core/vtx/interp/interpreter.js';

/**
 * The block translator (core/vtx/jit) changes how fast the machine runs, never what it computes:
 * every guest program the exec tests run gives the same stdout, exit status, clock, instruction
 * count and every machine statistic (TLB hits and misses, walks and their references, page
 * faults, VM exits, context switches …) with the translator on and off — on one CPU and two, as a
 * Linux process and as a Dune process (EPT violations reach the VMM from inside blocks).
 * The inputs are small; the loops still run long enough for blocks to be translated, which each
 * case checks.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GUEST = join(ROOT, 'examples', 'guest', 'bin');
const THREADS = join(ROOT, 'test', 'linux', 'threads', 'bin');

interface Outcome {
  out: string;
  exitCode: number;
  summary: Record<string, unknown>;
  counters: Record<string, number>;
  cycles: number[];
  instructions: number[];
  blockInstructions: number;
}

function run(path: string, args: string[], mode: 'linux' | 'dune', cpus: number, jit: boolean): Outcome {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-jit-'));
  let out = '';
  let kernel: Kernel | undefined;
  const dec = new TextDecoder();
  try {
    const r = execElf(path, args, {
      mode, profile: 'dune-e3-1230v2', memory: 256 << 20, root: dir, cpus, jit, argv0: 'prog',
      envp: ['DUNESIM_TEST=hello-from-env'],
      configure: (k) => (kernel = k),
      console: (fd, data) => {
        if (fd === 1) out += dec.decode(data);
      },
      report: () => {},
    });
    const m = kernel!.machine;
    const summary = { ...r.stats };
    delete summary.wallSeconds;
    let blockInstructions = 0;
    for (const c of m.cpus) blockInstructions += (c.interpreter as X86Interpreter).blockInstructions;
    return {
      out, exitCode: r.exitCode, summary, counters: m.stats.toJSON(),
      cycles: m.cpus.map((c) => c.cycles), instructions: m.cpus.map((c) => c.instructions), blockInstructions,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function same(path: string, args: string[], mode: 'linux' | 'dune', cpus = 1): void {
  const off = run(path, args, mode, cpus, false);
  const on = run(path, args, mode, cpus, true);
  expect(off.blockInstructions).toBe(0);
  // The translator ran a real share of the program (not a vacuous comparison).
  expect(on.blockInstructions).toBeGreaterThan(on.instructions.reduce((a, b) => a + b, 0) / 10);
  expect(on.out).toBe(off.out);
  expect(on.exitCode).toBe(off.exitCode);
  expect(on.cycles).toEqual(off.cycles);
  expect(on.instructions).toEqual(off.instructions);
  expect(on.summary).toEqual(off.summary);
  expect(on.counters).toEqual(off.counters);
}

const PROGRAMS: Array<[string, string[]]> = [
  ['sieve', ['30000']], ['crc32', ['0']], ['matmul', ['20']], ['qsort', ['1500']], ['malloc', []],
  ['strings', []], ['doubles', []], ['segv', []], ['restart', []], ['sigsuspend', []], ['hello', []],
];
const THREADED: Array<[string, string[]]> = [
  ['mutex', ['2', '100']], ['parsum', ['2', '5000']], ['prodcons', ['100']], ['mallocstress', ['4', '50']],
];
const THREAD_TESTS = ['sum4', 'futex-ops', 'preempt', 'shootdown', 'sigqueueinfo'];

describe.runIf(existsSync(join(GUEST, 'sieve')))('block translator: the same machine with it on and off', () => {
  for (const [name, args] of PROGRAMS) {
    it(`${name} as a Linux process`, () => same(join(GUEST, name), args, 'linux'));
  }
  for (const name of ['sieve', 'qsort', 'segv']) {
    const args = PROGRAMS.find(([n]) => n === name)![1];
    it(`${name} as a Dune process`, () => same(join(GUEST, name), args, 'dune'));
  }
  for (const [name, args] of THREADED) {
    it(`${name} on two CPUs`, () => same(join(GUEST, name), args, 'linux', 2));
  }
  it('parsum as a Dune process on two CPUs', () => same(join(GUEST, 'parsum'), ['2', '5000'], 'dune', 2));
  for (const name of THREAD_TESTS) {
    it(`test/linux/threads ${name} on two CPUs`, () => same(join(THREADS, name), [], 'linux', 2));
  }
});

describe.runIf(existsSync(join(GUEST, 'sieve')))('--no-jit on the command line', () => {
  it('exec --no-jit writes the same statistics (and the guest does not see DUNESIM_JIT)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-nojit-'));
    try {
      const stats = (extra: string[]): Record<string, unknown> => {
        const file = join(dir, `${extra.length}.json`);
        const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'exec', ...extra, '--memory', '64', '--stats', file, join(GUEST, 'sieve'), '20000'], { encoding: 'utf8' });
        expect(r.status).toBe(0);
        expect(r.stdout).toContain('largest: 19997');
        const s = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        delete s.wallSeconds;
        return s;
      };
      expect(stats(['--no-jit'])).toEqual(stats([]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
