import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';

/**
 * The README's device and cluster examples, run as the README shows them (from the repository's
 * root, with its relative imports), and what the README says they print.
 */
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function example(name: string): string {
  const m = new RegExp(`<!-- readme-example: ${name} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (m === null) throw new Error(`README has no example '${name}'`);
  return m[1]!;
}

function run(name: string): string {
  const file = join(ROOT, `.readme-example-${name}-${process.pid}.ts`);
  writeFileSync(file, example(name));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  } finally {
    rmSync(file, { force: true });
  }
}

describe('README examples', () => {
  it('the one-shot timer: the device acts at the cycle it scheduled, not at the end of a slice', () => {
    const out = run('device');
    expect(README).toContain('It prints `' + out.trim() + '`');
    // The flag is set 5,000 cycles after the store: the poll loop ends soon after, not a
    // scheduling quantum later (Machine.schedule ends the slice that scheduled the event).
    const cycles = Number(/done after ([\d.]+) cycles/.exec(out)![1]);
    expect(cycles).toBeGreaterThan(5000);
    expect(cycles).toBeLessThan(10_000);
  });

  it('the two-machine echo: 100 round trips over the simulated wire, and the run ends quiet', () => {
    const out = run('cluster');
    const [first, second] = out.trim().split('\n');
    expect(README).toContain('It prints `' + first + '`');
    expect(first).toBe('quiet round trips 100 bad echoes 0');
    expect(README).toContain(`the client's ${second!.split(': ')[1]} device interrupts`);
  });
});
