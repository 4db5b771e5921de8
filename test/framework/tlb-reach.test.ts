import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Application } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { createContainer } from '../../core/framework/create-container.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { DEFAULT_PROFILE } from '../../core/vtx/cost-model.js';

/** The example plugin, resolved the way `dunesim` resolves it: through the container. */
async function contributions(): Promise<{ app: Application; suite: BenchSuite }> {
  const { container } = await createContainer();
  const app = container.getAll<Application>(Application).find((a) => a.plugin === 'tlb-reach' && a.id === 'sweep')!;
  const suite = container.getAll<BenchSuite>(BenchSuite).find((s) => s.id === 'tlb-reach')!;
  return { app, suite };
}

async function run(app: Application, options: Record<string, string>): Promise<{ figures: Record<string, number>; out: string; exitCode: number }> {
  let out = '';
  const stream = new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } });
  const r = await app.run({ options, profile: DEFAULT_PROFILE, out: stream });
  return { figures: r.figures ?? {}, out, exitCode: r.exitCode };
}

describe('example plugin tlb-reach', () => {
  it('sweep: beyond the 4 KiB TLB reach every page walks; 2 MiB pages cover it', async () => {
    const { app } = await contributions();
    // 2048 pages = 8 MiB: four times the 512-entry TLB's reach with 4 KiB pages, four 2 MiB pages.
    const small = await run(app, { pages: '2048', passes: '1' });
    expect(small.exitCode).toBe(0);
    expect(small.out).toContain('2048 pages (8 MiB) mapped with 4 KiB pages');
    const f = small.figures;
    expect(f['accesses']).toBe(2048 * 64);
    expect(f['walks']).toBeGreaterThanOrEqual(2048); // one per page (round-robin sets thrash)
    // A sequential sweep: the paging-structure caches' PDE entry makes most walks one reference
    // (SDM Vol. 3A §4.10.3); only the first walk in each 2 MiB region reads more.
    expect(f['walkRefs']! / f['walks']!).toBeGreaterThanOrEqual(1);
    expect(f['walkRefs']! / f['walks']!).toBeLessThan(1.1);
    expect(f['walksPer1000Accesses']).toBeCloseTo(1000 / 64, 0);
    expect(f['cyclesPerAccess']).toBeGreaterThan(4); // the 4-instruction loop plus walk references

    const large = await run(app, { pages: '2048', passes: '1', large: 'true' });
    expect(large.figures['walks']).toBe(0);
    expect(large.figures['cyclesPerAccess']).toBeCloseTo(4, 3); // plus the few pass and done instructions
  });

  it('sweep: a region within the TLB reach does not walk after the warm-up', async () => {
    const { app } = await contributions();
    const r = await run(app, { pages: '64', passes: '2', stride: '512' });
    expect(r.figures['accesses']).toBe(2 * 64 * 8);
    expect(r.figures['walks']).toBe(0);
  });

  it('sweep: refuses bad options', async () => {
    const { app } = await contributions();
    await expect(run(app, { pages: '0' })).rejects.toThrow(UsageError);
    await expect(run(app, { pagez: '4' })).rejects.toThrow(/unknown option --pagez/);
  });

  it('bench suite: one row per region and page size, per unit; 2 MiB pages walk less', async () => {
    const { suite } = await contributions();
    const steps: string[] = [];
    const r = await suite.run({ profile: DEFAULT_PROFILE, progress: (s) => steps.push(s) });
    expect(steps).toHaveLength(suite.steps);
    expect(r.suite).toBe('tlb-reach');
    expect(r.rows).toHaveLength(12);
    const walks = (id: string): number => r.rows.find((x) => x.id === id && x.unit === 'walks / 1000 accesses')!.value!;
    expect(walks('16 MiB · 4 KiB pages')).toBeGreaterThan(10);
    expect(walks('16 MiB · 2 MiB pages')).toBe(0);
    expect(walks('1 MiB · 4 KiB pages')).toBe(0);
    expect(walks('128 MiB · 2 MiB pages')).toBeLessThan(walks('128 MiB · 4 KiB pages') / 100);
    for (const row of r.rows) expect(row.value).toBeGreaterThanOrEqual(0);
  });
});
