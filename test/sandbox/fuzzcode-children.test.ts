/**
 * Class 8 (SECURITY.md, plugins/sandbox/security/fuzzcode.md): random code must not take the
 * machine down. test/sandbox/attacks/fuzzcode-children forks children that jump into pages of
 * seeded random bytes; every one must end with a signal (or an exit of its own) for that child
 * only — never a kernel panic, a triple fault, a JavaScript exception or a hang of dunesim.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './hostile.js';
import { captured, sandboxed } from './run.js';
import { execElf } from '../../core/cli/exec-command.js';

const FUZZ = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'fuzzcode-children');

type Exec = Parameters<typeof captured>[0];
const inMode = (mode: string): Exec => (path, args, opts) => execElf(path, args, { ...opts, mode });

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

let total = 0;

describe.runIf(existsSync(FUZZ))('random code: forked children', () => {
  for (const [mode, seed, count] of [['linux', 1, 300]] as const) {
    it(`--mode ${mode}: ${count} children of seed ${seed} each die of a signal of their own`, () => {
      const t0 = performance.now();
      const r = captured(inMode(mode), FUZZ, { args: [String(seed), String(count)] });
      const { ran, byDeath } = tally(r.stdout);
      const sum = Object.values(byDeath).reduce((a, b) => a + b, 0) - (byDeath['other'] ?? 0);
      console.log(`fuzzcode --mode ${mode}: ${ran} children in ${((performance.now() - t0) / 1000).toFixed(1)} s:`, JSON.stringify(byDeath), r.result.stats.instructions);
      total += ran;
      expect(r.result.exitCode).toBe(0);
      expect(ran).toBe(count);
      expect(sum).toBe(count);
      expect(byDeath['other']).toBe(0);
    });
  }
});
