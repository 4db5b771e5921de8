import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';

/**
 * The CLI end to end, as a user runs it: `node bin/dunesim.js …`. Each spawn costs about a second
 * (tsx compiles on start), so these are few; the behaviours behind them have in-process tests.
 */
function dunesim(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('dunesim CLI', () => {
  it('run: prints the figures and exits 0', () => {
    const r = dunesim(['run', 'tlb-reach/sweep', '--pages', '64', '--passes', '1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('walksPer1000Accesses');
    expect(r.stdout).toMatch(/accesses\s+│\s+4096/);
  });

  it('run: an unknown application is a usage error (2) that lists what exists', () => {
    const r = dunesim(['run', 'nope/app']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown plugin 'nope'");
    expect(r.stderr).toContain('tlb-reach/sweep');
  });

  it('plugins that fail to load are reported once each, and the command still runs with its exit code', () => {
    const r = dunesim(['run', 'fixture/exit', '--code', '3'], { DUNESIM_MANIFEST: join(ROOT, 'test/framework/fixtures/manifest.json') });
    expect(r.status).toBe(3);
    expect(r.stdout).toContain('options {"code":"3"}');
    expect(r.stdout).toMatch(/answer\s+│\s+42/);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l === "dunesim: plugin 'broken-import' failed to load: boom at import")).toHaveLength(1);
    expect(lines.filter((l) => l === "dunesim: plugin 'throws-on-load' failed to load: boom in load")).toHaveLength(1);
    // A plugin whose binding does not resolve is skipped like the others, not fatal to the command.
    expect(lines.filter((l) => l.startsWith("dunesim: plugin 'unresolved' failed to load: No bindings found"))).toHaveLength(1);
    expect(lines.every((l) => l.startsWith('dunesim: plugin '))).toBe(true);
    expect(lines).toHaveLength(5);
  });

  it('list: plugins, their applications and the suites', () => {
    const r = dunesim(['list']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/tlb-reach\s+example plugin/);
    expect(r.stdout).toContain('run tlb-reach/sweep');
    expect(r.stdout).toMatch(/bench suites:[\s\S]*vtx[\s\S]*tlb-reach/);
  });

  it('bench --report writes an HTML page with SVG charts; --jobs 2 runs suites in worker threads with the same rows as one at a time; bad suites and --jobs exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-cli-'));
    // One serial run serves both the report and the comparison: each bench run costs seconds.
    const serial = dunesim(['bench', 'tlb-reach', '--jobs', '1', '--report', dir, '--json', join(dir, 's.json')]);
    expect(serial.status, serial.stderr).toBe(0);
    expect(serial.stdout).toContain('suite tlb-reach');
    expect(serial.stderr).toContain(`wrote ${join(dir, 'index.html')}`);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    // tlb-reach's rows are two series over the region size: two line charts of two lines, 12 points.
    expect(html.split('aria-roledescription="line mark"').length - 1).toBe(4);
    expect(html.split('aria-roledescription="point"').length - 1).toBe(12);

    // threads, not dune-micro: its C programs take tens of seconds, and any second suite shows the order.
    const par = dunesim(['bench', 'tlb-reach', 'threads', '--jobs', '2', '--json', join(dir, 'p.json')]);
    expect(par.status, par.stderr).toBe(0);
    expect(par.stderr).toContain('bench tlb-reach: 6/6');
    expect(par.stderr).toContain('bench threads: 12/12');
    const p = JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')) as Array<{ suite: string; rows: unknown[] }>;
    const one = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as Array<{ suite: string; rows: unknown[] }>;
    expect(p.map((r) => r.suite)).toEqual(['tlb-reach', 'threads']);
    expect(p[0]!.rows).toEqual(one[0]!.rows);

    const badJobs = dunesim(['bench', 'tlb-reach', '--jobs', '0']);
    expect(badJobs.status).toBe(2);
    expect(badJobs.stderr).toMatch(/^dunesim: --jobs must be a whole number from 1 to 64, got '0'/);
    const bad = dunesim(['bench', 'no-such-suite']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown bench suite 'no-such-suite'; available: vtx, dune-micro, exec, threads, net-linux, memcached-linux, tlb-reach/);
  }, 240_000);
});
