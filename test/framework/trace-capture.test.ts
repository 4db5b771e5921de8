import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TraceCapture, traceSlug } from '../../core/trace-capture.js';
import { Machine } from '../../core/vtx/machine.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';

describe('trace capture (bench --trace, run --trace)', () => {
  it('traces the machines built during a step, writes the wanted step only, and stops observing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-capture-'));
    const cap = new TraceCapture(dir, 'suite', 'b · two');
    cap.start();
    const a = new Machine({ memory: 16 << 20 });
    expect(a.tracer.enabled).toBe(true);
    cap.step('a');
    new Machine({ memory: 16 << 20 });
    new Machine({ memory: 16 << 20 });
    cap.step('b · two');
    cap.stop();
    expect(new Machine({ memory: 16 << 20 }).tracer.enabled).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['suite-b-two-2.json', 'suite-b-two.json']);
    expect(cap.written).toHaveLength(2);
    const json = JSON.parse(readFileSync(join(dir, 'suite-b-two.json'), 'utf8')) as { traceEvents: unknown[] };
    expect(Array.isArray(json.traceEvents)).toBe(true);
    expect(traceSlug('16 MiB · 4 KiB pages')).toBe('16-MiB-4-KiB-pages');
  });

  it('bench --trace-row writes one row\'s traces; a row that no step has is a usage error naming the steps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-capture-'));
    const cli = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const ok = cli(['bench', 'tlb-reach', '--trace', dir, '--trace-row', '16 MiB · 4 KiB pages']);
    expect(ok.status, String(ok.stderr)).toBe(0);
    expect(readdirSync(dir)).toEqual(['tlb-reach-16-MiB-4-KiB-pages.json']);
    const events = (JSON.parse(readFileSync(join(dir, 'tlb-reach-16-MiB-4-KiB-pages.json'), 'utf8')) as { traceEvents: Array<{ cat: string; name: string }> }).traceEvents;
    expect(events.some((e) => e.cat === 'cpu' && e.name === 'user')).toBe(true); // the sweep runs at CPL 3
    const bad = cli(['bench', 'tlb-reach', '--trace', dir, '--trace-row', 'nope']);
    expect(bad.status).toBe(2);
    expect(String(bad.stderr)).toMatch(/^dunesim: --trace-row 'nope': no step of that name; the steps were: 1 MiB · 4 KiB pages, /m);
  });
});
