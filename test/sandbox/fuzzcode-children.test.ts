/**
 * Class 8 (plugins/sandbox/security/random-code.md): random code must not take the machine down.
 * test/sandbox/attacks/fuzzcode-children forks children that jump into pages of seeded random
 * bytes; each one must end with a signal (or an exit of its own) for that child only — never a
 * kernel panic, a triple fault, a JavaScript exception, status 70 or a hang of dunesim. In
 * --mode dune the module starts each child outside Dune and libDune's fork wrapper enters it
 * on a vCPU of its own, so the random code runs in guest ring 0: the launcher's libDune handlers
 * give the signals Linux gives (SIGSEGV, SIGILL, …), and what only ring 0 can do — a privileged
 * instruction the module does not handle, a triple fault on a wild stack — ends the child with
 * libDune's exit status 1, as it would on real Dune. The inline variant runs the random code in
 * the Dune process itself; in the sandbox fork is refused, so it runs inline in guest ring 3
 * under the runtime.
 */
import { afterAll, describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './hostile.js';
import { captured, policy, sandboxed } from './run.js';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { ExecOptions, ExecResult, execElf } from '../../core/system/index.js';

const FUZZ = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'fuzzcode-children');
const CANONICAL = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'fuzzcode-canonical');
const ORPHAN = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'fuzzcode-orphan');

const inMode = (mode: string) => (path: string, args: string[], opts: Omit<ExecOptions, 'mode' | 'launcher'>): ExecResult => execElf(path, args, { ...opts, mode });

/** Parses "fuzzcode: ran N children: SIGSEGV a ... exited c other d". */
function tally(stdout: string): { ran: number; byDeath: Record<string, number> } {
  const line = stdout.split('\n').find((l) => l.startsWith('fuzzcode: ran '));
  if (line === undefined) throw new Error(`no tally in ${JSON.stringify(stdout.slice(-500))}`);
  const [, n, rest] = /^fuzzcode: ran (\d+) children:(.*)$/.exec(line)!;
  const byDeath: Record<string, number> = {};
  const words = rest!.trim().split(/\s+/);
  for (let i = 0; i + 1 < words.length; i += 2) byDeath[words[i]!] = Number(words[i + 1]);
  return { ran: Number(n), byDeath };
}

/** Random-code runs of this file, by mode (printed at the end: CI must run at least 10,000). */
const ran: Record<string, number> = {};
const count = (mode: string, n: number): void => {
  ran[mode] = (ran[mode] ?? 0) + n;
};

afterAll(() => {
  const total = Object.values(ran).reduce((a, b) => a + b, 0);
  // All of them ran (not a filtered run): the suite's promise of 10,000 random-code runs holds.
  if (Object.keys(ran).length === 6) expect(total).toBeGreaterThanOrEqual(10_000);
  console.log(`fuzzcode: ${total} random-code runs (${Object.entries(ran).map(([m, n]) => `${m} ${n}`).join(', ')}), no host exception, no hang`);
});

/** Signals a page of random bytes may die of: SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGKILL, SIGSEGV, SIGALRM. */
const FAULT_SIGNALS = new Set(['SIGILL', 'SIGTRAP', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGSEGV', 'SIGALRM']);

describe.runIf(existsSync(FUZZ))('random code: forked children', () => {
  const runs: Array<[string, number, number]> = [
    ['linux', 1, 2450],
    ['linux', 2, 2450],
    ['linux', 3, 2450],
    ['linux', 4, 2450],
    ['dune', 5, 200],
  ];
  for (const [mode, seed, n] of runs) {
    it(`--mode ${mode}: ${n} children of seed ${seed} each end with a signal or an exit of their own`, () => {
      const r = captured(inMode(mode), FUZZ, { args: [String(seed), String(n)] });
      const { ran: got, byDeath } = tally(r.stdout);
      expect(r.messages).not.toContain('internal error');
      expect(r.result.exitCode).toBe(0);
      expect(got).toBe(n);
      expect(byDeath['other']).toBe(0);
      let sum = byDeath['exited'] ?? 0;
      for (const [how, k] of Object.entries(byDeath)) {
        if (how === 'exited' || how === 'other') continue;
        expect(FAULT_SIGNALS.has(how), `children killed by ${how}`).toBe(true);
        sum += k;
      }
      expect(sum).toBe(n);
      // Random code mostly dies of SIGSEGV and SIGILL; the timer ends the ones that loop.
      expect(byDeath['SIGSEGV']).toBeGreaterThan(n / 5);
      expect(byDeath['SIGILL']).toBeGreaterThan(n / 10);
      count(mode, got);
    }, 120_000);
  }

  it('the same seed gives the same deaths and the same cycles (determinism)', () => {
    const a = captured(inMode('linux'), FUZZ, { args: ['9', '60'] });
    const b = captured(inMode('linux'), FUZZ, { args: ['9', '60'] });
    expect(a.stdout).toBe(b.stdout);
    expect(a.result.stats.cycles).toBe(b.result.stats.cycles);
    expect(a.result.stats.instructions).toBe(b.result.stats.instructions);
    count('linux', 120);
  });
});

describe.runIf(existsSync(FUZZ))('random code: inline (no fork)', () => {
  it('--mode dune: random code in guest ring 0 of the Dune process ends the process, never dunesim', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = captured(inMode('dune'), FUZZ, { args: [String(seed), '1', 'inline'] });
      expect(r.stdout, `seed ${seed}`).toBe(`fuzzcode: seed ${seed} inline\n`);
      expect(r.messages, `seed ${seed}`).not.toContain('internal error');
      expect(r.result.exitCode, `seed ${seed}: ${r.messages}`).not.toBe(70);
      // libDune's on_dune_exit (status 1) or a signal; never "did not finish".
      expect(r.messages, `seed ${seed}`).not.toContain('did not finish');
    }
    count('dune-inline', 6);
  }, 120_000);

  it('--mode sandbox: random code in guest ring 3 is contained (a signal, or the instruction limit)', () => {
    const limited = policy({ name: 'fuzz', limits: { instructions: 2_000_000 } });
    for (let seed = 1; seed <= 16; seed++) {
      const r = sandboxed(FUZZ, { args: [String(seed), '1', 'inline'], policy: limited });
      expect(r.messages, `seed ${seed}`).not.toContain('internal error');
      expect(r.exitCode, `seed ${seed}: ${r.messages}`).not.toBe(70);
      expect(r.messages, `seed ${seed}`).not.toContain('did not finish');
      // A fault is a contained event with Linux's signal; an exit of the random code's own is allowed.
      if (r.exitCode > 128) expect(r.events.some((e) => e.kind === 'contained' || e.kind === 'killed'), `seed ${seed}: ${r.messages}`).toBe(true);
    }
    count('sandbox-inline', 16);
  }, 120_000);

  it('--mode ptrace: random code in the traced program ends it, never the supervisor or dunesim', () => {
    const limited = policy({ name: 'fuzz', limits: { instructions: 2_000_000 } });
    for (let seed = 1; seed <= 24; seed++) {
      const r = captured(execPtraced, FUZZ, { args: [String(seed), '1', 'inline'], policy: limited });
      expect(r.messages, `seed ${seed}`).not.toContain('internal error');
      expect(r.result.exitCode, `seed ${seed}: ${r.messages}`).not.toBe(70);
      expect(r.messages, `seed ${seed}`).not.toContain('did not finish');
    }
    count('ptrace-inline', 24);
  }, 120_000);

  it('--mode sandbox: fork is refused, so the forking fuzzer runs no child there', () => {
    const r = sandboxed(FUZZ, { args: ['1', '3'] });
    expect(r.stdout).toContain('fuzzcode: fork failed (-38) after 0 children');
    expect(tally(r.stdout).ran).toBe(0);
  });
});

describe.runIf(existsSync(CANONICAL))('non-canonical addresses from ring 3 (SDM: #GP(0) at the transfer; #SS(0) for the stack)', () => {
  it('each case ends as on Linux/Intel: the fault at the branch, RSP unchanged, SIGSEGV or SIGBUS', () => {
    const r = captured(inMode('linux'), CANONICAL, {});
    expect(r.result.exitCode).toBe(0);
    expect(r.stdout).not.toContain('ESCAPED');
    expect(r.stdout.trim().split('\n')).toEqual([
      'held jmp to a non-canonical target: signal 11, handler saw: sig 11 code 0x80 rip at-branch rsp unchanged',
      'held call to a non-canonical target: signal 11, handler saw: sig 11 code 0x80 rip at-branch rsp unchanged',
      'held ret to a non-canonical target: signal 11, handler saw: sig 11 code 0x80 rip at-branch rsp unchanged',
      'held push with a non-canonical rsp: signal 7, handler saw: sig 7 code 0x80 rip at-branch rsp unchanged',
      'held leave with a non-canonical rbp: signal 7, handler saw: sig 7 code 0x80 rip at-branch rsp unchanged',
      'held rt_sigreturn to a non-canonical rip: signal 11',
      'held a handler at a non-canonical address: signal 11',
      'held a jump into the kernel half: signal 11',
    ]);
  });
});

describe.runIf(existsSync(ORPHAN))('descendants that never end do not keep dunesim running', () => {
  for (const mode of ['linux', 'dune']) {
    it(`--mode ${mode}: the program exits; its spinning and sleeping orphans are killed with it (zap_pid_ns_processes)`, () => {
      const r = captured(inMode(mode), ORPHAN, {});
      expect(r.stdout).toBe('held parent exits, leaving three spinning or sleeping descendants\n');
      expect(r.result.exitCode).toBe(0);
      expect(r.messages).toBe('');
    });
  }
});
