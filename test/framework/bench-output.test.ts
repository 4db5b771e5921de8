import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { BenchResult, BenchSuite } from '../../core/bench/bench-suite.js';
import { benchJson, chooseSuites, lineSink } from '../../core/bench/bench-runner.js';
import { formatNumber, formatPercent, renderBenchTable } from '../../core/bench/bench-table.js';
import { UsageError } from '../../core/framework/usage-error.js';

const suite = (id: string, steps = 2): BenchSuite => ({ id, description: id, steps, run: () => ({ suite: id, profile: 'p', rows: [] }) });

/** A result shaped like dune-micro's: comparison columns, long mechanism counts and a note. */
const WIDE: BenchResult = {
  suite: 'wide',
  profile: 'dune-e3-1230v2',
  rows: [
    { id: 'getpid', unit: 'cycles', linux: 138.0000000001, dune: 893.2, paper: { linux: 138, dune: 895 },
      counts: { 'vmExits.VMCALL': 1, syscalls: 1, tlbMisses: 0, walkRefs: 0, contextSwitches: 0, signals: 0 },
      note: 'calibrates the VM exit and entry against Table 2' },
    { id: 'page walk', unit: 'cycles / reference', linux: 35.8, dune: 87.8, paper: { linux: 35.8, dune: 86.4 } },
  ],
};

describe('bench numbers', () => {
  it('counts exactly, other values with four significant digits, exponents only far from 1', () => {
    expect(formatNumber(8208)).toBe('8208');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(0.0046)).toBe('0.0046');
    expect(formatNumber(4.32271)).toBe('4.323');
    expect(formatNumber(35.8)).toBe('35.8');
    expect(formatNumber(701415.3)).toBe('701415');
    expect(formatNumber(2.5e-7)).toBe('2.50e-7');
    expect(formatNumber(undefined)).toBe('');
  });

  it('errors against the paper in percent with one decimal: rounding noise is 0.0, not 3.97e-11', () => {
    expect(formatPercent(3.97e-11)).toBe('0.0');
    expect(formatPercent(-3.97e-11)).toBe('0.0');
    expect(formatPercent(-0.2234)).toBe('-0.2');
    expect(formatPercent(1.62)).toBe('+1.6');
    expect(formatPercent(-64)).toBe('-64.0');
  });
});

describe('the terminal table fits the terminal', () => {
  const longest = (s: string): number => Math.max(...s.split('\n').map((l) => l.length));

  it('unbounded: one row per result row, every column side by side', () => {
    const t = renderBenchTable(WIDE);
    expect(longest(t)).toBeGreaterThan(120);
    expect(t).toMatch(/│ getpid\s+│ cycles\s+│ 138\s+│ 893\.2\s+│ 138\s+│ 895\s+│ 0\.0\s+│ -0\.2\s+│ vmExits\.VMCALL=1/);
  });

  it('at 100 columns the counts and the note move below their row, wrapped, and nothing is lost', () => {
    const t = renderBenchTable(WIDE, 100);
    expect(longest(t)).toBeLessThanOrEqual(100);
    const flat = t.replace(/[│\s]+/g, ' ');
    expect(flat).toContain('mechanism counts: vmExits.VMCALL=1 syscalls=1 tlbMisses=0 walkRefs=0 contextSwitches=0 signals=0');
    expect(flat).toContain('note: calibrates the VM exit and entry against Table 2');
    expect(t).toMatch(/│ page walk\s+│ cycles \/ reference │ 35\.8 /);
  });

  it('at 40 columns each row becomes a block of lines', () => {
    const t = renderBenchTable(WIDE, 40);
    expect(longest(t)).toBeLessThanOrEqual(40);
    expect(t).toContain('model dune: 893.2');
    expect(t).toContain('err dune %: -0.2');
  });
});

describe('bench command', () => {
  it('runs a suite named twice once, in the order first named; an unknown one is a usage error', () => {
    const all = [suite('vtx'), suite('exec')];
    expect(chooseSuites(['exec', 'vtx', 'exec', 'vtx'], all).map((s) => s.id)).toEqual(['exec', 'vtx']);
    expect(() => chooseSuites(['vtx', 'nope'], all)).toThrow(UsageError);
  });

  it('`all` is every suite in registration order; --only keeps, --skip leaves out, each name checked', () => {
    const all = ['vtx', 'dune-micro', 'exec', 'sandbox'].map((id) => suite(id));
    const ids = (names: string[], f?: { only?: string; skip?: string }): string[] => chooseSuites(names, all, f).map((s) => s.id);
    expect(ids(['all'])).toEqual(['vtx', 'dune-micro', 'exec', 'sandbox']);
    expect(ids(['exec', 'all'])).toEqual(['exec', 'vtx', 'dune-micro', 'sandbox']);
    expect(ids(['all'], { only: 'sandbox,vtx' })).toEqual(['vtx', 'sandbox']);
    expect(ids(['all'], { skip: 'exec, sandbox' })).toEqual(['vtx', 'dune-micro']);
    expect(() => ids(['all'], { skip: 'nope' })).toThrow(/--skip: unknown bench suite 'nope'/);
    expect(() => ids(['vtx'], { skip: 'vtx' })).toThrow(/no bench suite left/);
  });

  it('--json is an array for one suite as for several', () => {
    const r: BenchResult = { suite: 'a', profile: 'p', rows: [] };
    expect(JSON.parse(benchJson([r]))).toEqual([r]);
    expect(JSON.parse(benchJson([r, { ...r, suite: 'b' }]))).toHaveLength(2);
  });

  it('without a terminal, progress is one line per step', () => {
    const lines: string[] = [];
    const sink = lineSink((l) => lines.push(l));
    sink.start(suite('dune-micro', 2));
    sink.step('getpid');
    sink.step('page fault');
    sink.stop();
    expect(lines).toEqual(['bench dune-micro: 2 steps\n', 'bench dune-micro: 1/2 getpid\n', 'bench dune-micro: 2/2 page fault\n']);
  });

  it('end to end: a suite named twice runs once, progress lines on a piped stderr, a one-element array', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-bench-'));
    try {
      const out = join(dir, 'sub', 'r.json');
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'bench', 'tlb-reach', 'tlb-reach', '--json', out], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(0);
      expect(r.stdout.match(/suite tlb-reach/g)).toHaveLength(1);
      expect(r.stderr).toContain('bench tlb-reach: 6 steps\n');
      expect(r.stderr).toContain('bench tlb-reach: 6/6 128 MiB · 2 MiB pages\n');
      const doc = JSON.parse(readFileSync(out, 'utf8')) as BenchResult[];
      expect(Array.isArray(doc)).toBe(true);
      expect(doc.map((x) => x.suite)).toEqual(['tlb-reach']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
