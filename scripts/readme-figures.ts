/**
 * Writes the README's figure tables from bench output, so that the README never states a figure
 * the model does not produce. Each table sits between two markers in README.md:
 *
 *   <!-- readme-figures:SUITE -->  …generated…  <!-- /readme-figures:SUITE -->
 *
 * and is made from docs/bench/SUITE.json, the committed `dunesim bench SUITE --json` output.
 * test/framework/readme-figures.test.ts fails when README.md differs from what this script would
 * write, so a changed model shows up as a stale README until the JSON is re-measured:
 *
 *   npx dunesim bench dune-micro --json docs/bench/dune-micro.json
 *   npx dunesim bench vtx --json docs/bench/vtx.json
 *   npx dunesim bench threads --json docs/bench/threads.json
 *   npx dunesim bench wedge --json docs/bench/wedge.json   (and boehm-gc, net-linux, memcached-linux, ix, dsm)
 *   npx tsx scripts/readme-figures.ts            # rewrite the blocks
 *   npx tsx scripts/readme-figures.ts --check    # exit 1 if README.md is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult, BenchRow } from '../core/bench/bench-suite.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
export const README = join(ROOT, 'README.md');
export const BENCH_DIR = join(ROOT, 'docs', 'bench');

/** The suites whose figures the README shows. */
export const README_SUITES = ['dune-micro', 'vtx', 'threads', 'wedge', 'boehm-gc', 'net-linux', 'memcached-linux', 'ix', 'ix-memcached', 'dsm'] as const;

/** Cycles as the README prints them: whole numbers with thousands separators, one decimal below 100. */
function cycles(v: number | undefined): string {
  if (v === undefined) return '–';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(1);
}

/** The model's error against the paper, signed, with a real minus sign. */
function error(model: number | undefined, paper: number | undefined): string {
  if (model === undefined || paper === undefined || paper === 0) return '–';
  const e = ((model - paper) / paper) * 100;
  const t = Math.abs(e).toFixed(1);
  return t === '0.0' ? '0.0 %' : `${e < 0 ? '−' : '+'}${t} %`;
}

function dunemicro(r: BenchResult): string {
  const lines = [
    '| row | model Linux | model Dune | paper Linux | paper Dune | Linux error | Dune error | paper figure from | check Linux | check Dune |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    lines.push(`| ${row.id} | ${cycles(row.linux)} | ${cycles(row.dune)} | ${cycles(row.paper?.linux)} | ${cycles(row.paper?.dune)} | ${error(row.linux, row.paper?.linux)} | ${error(row.dune, row.paper?.dune)} | ${row.paper?.source ?? '–'} | ${cycles(row.crossCheck?.linux)} | ${cycles(row.crossCheck?.dune)} |`);
  }
  return lines.join('\n');
}

/** A speed: two or three significant digits, as a measurement of a shared machine deserves. */
function speed(row: BenchRow): string {
  const v = row.value;
  if (v === undefined) return '–';
  const n = v >= 100 ? Math.round(v / 10) * 10 : Number(v.toPrecision(2));
  return row.unit === 'ratio' ? String(n) : `~${n.toLocaleString('en-US')} ${row.unit}`;
}

function vtx(r: BenchResult): string {
  const lines = ['| id | value |', '|---|---|'];
  for (const row of r.rows) lines.push(`| ${row.id} | ${speed(row)} |`);
  return lines.join('\n');
}

/** The mechanism counts a threads row shows, by their name in the row's counts. */
const THREAD_COUNTS: ReadonlyArray<readonly [string, string, string]> = [
  ['contextSwitches', 'switch', 'switches'],
  ['cr3Loads', 'CR3 load', 'CR3 loads'],
  ['cr3LoadsNoFlush', 'no-flush (PCID)', 'no-flush (PCID)'],
  ['ipis', 'IPI', 'IPIs'],
  ['tlbShootdowns', 'shootdown', 'shootdowns'],
  ['tlbFlushes', 'TLB flush', 'TLB flushes'],
  ['tlbMisses', 'TLB miss', 'TLB misses'],
  ['futexCalls', 'futex call', 'futex calls'],
];

/** A count per operation: whole, or with two decimals when the runs' difference is not. */
function count(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function threads(r: BenchResult): string {
  const lines = [
    '| row | model Linux (cycles) | per operation | paper Linux | error | paper figure from |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const c = row.counts ?? {};
    const mech = THREAD_COUNTS.filter(([k]) => (c[k] ?? 0) !== 0).map(([k, one, many]) => `${count(c[k]!)} ${c[k] === 1 ? one : many}`).join(', ');
    lines.push(`| ${row.id} | ${cycles(row.linux)} | ${mech || '–'} | ${cycles(row.paper?.linux)} | ${error(row.linux, row.paper?.linux)} | ${row.paper?.source ?? '–'} |`);
  }
  return lines.join('\n');
}

/** A figure of any unit: whole numbers with separators from 100 up, else three significant digits. */
function figure(v: number | undefined | null): string {
  if (v === undefined || v === null) return '–';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(3)));
}

/** Rows the paper gives a Linux and a Dune figure for: both columns, both errors. */
function linuxAndDune(r: BenchResult): string {
  const lines = [
    '| row | unit | model Linux | model Dune | paper Linux | paper Dune | Linux error | Dune error |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    if (row.paper?.linux === undefined || row.paper?.dune === undefined) continue;
    lines.push(`| ${row.id} | ${row.unit} | ${figure(row.linux)} | ${figure(row.dune)} | ${figure(row.paper.linux)} | ${figure(row.paper.dune)} | ${error(row.linux, row.paper.linux)} | ${error(row.dune, row.paper.dune)} |`);
  }
  return lines.join('\n');
}

/**
 * Every row with a Linux or a Dune figure (series points left to the report's charts), each
 * beside the paper's where it has one; `dune` names the second system (IX runs on Dune).
 */
function modelColumns(dune: string): (r: BenchResult) => string {
  return (r) => {
    const rows = r.rows.filter((row) => row.series === undefined && (row.linux !== undefined || row.dune !== undefined));
    // A suite without published figures (the design is dunesim's own) gets the model's columns only.
    const paper = rows.some((row) => row.paper?.linux !== undefined || row.paper?.dune !== undefined);
    const lines = paper
      ? [`| row | unit | model Linux | model ${dune} | paper Linux | paper ${dune} | Linux error | ${dune} error |`, '|---|---|---|---|---|---|---|---|']
      : [`| row | unit | model Linux | model ${dune} |`, '|---|---|---|---|'];
    for (const row of rows) {
      const p = row.paper;
      const model = `| ${row.id} | ${row.unit} | ${figure(row.linux)} | ${figure(row.dune)} |`;
      lines.push(paper ? `${model} ${figure(p?.linux)} | ${figure(p?.dune)} | ${error(row.linux, p?.linux)} | ${error(row.dune, p?.dune)} |` : model);
    }
    return lines.join('\n');
  };
}

/** Table 6: the claim is the ratio of each Dune variant's time to Normal's, beside the paper's. */
function boehmGc(r: BenchResult): string {
  const lines = [
    '| workload:variant | model Normal (ms) | model variant (ms) | model variant ÷ Normal | paper variant ÷ Normal |',
    '|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    if (row.unit !== 'ms' || row.linux === undefined || row.dune === undefined) continue;
    const p = row.paper;
    const paper = p?.linux !== undefined && p?.dune !== undefined ? (p.dune / p.linux).toFixed(3) : '–';
    lines.push(`| ${row.id} | ${figure(row.linux)} | ${figure(row.dune)} | ${(row.dune / row.linux).toFixed(3)} | ${paper} |`);
  }
  return lines.join('\n');
}

/** One modelled figure per row against the paper's Linux one. */
function linuxOnly(r: BenchResult): string {
  const lines = ['| row | unit | model Linux | paper Linux | error |', '|---|---|---|---|---|'];
  for (const row of r.rows) {
    if (row.series !== undefined) continue; // points of a curve: the report draws them
    lines.push(`| ${row.id} | ${row.unit} | ${figure(row.value)} | ${figure(row.paper?.linux)} | ${error(row.value, row.paper?.linux)} |`);
  }
  return lines.join('\n');
}

const RENDER: Record<(typeof README_SUITES)[number], (r: BenchResult) => string> = {
  'dune-micro': dunemicro, vtx, threads, wedge: linuxAndDune, 'boehm-gc': boehmGc, 'net-linux': linuxOnly,
  'memcached-linux': linuxOnly, ix: modelColumns('IX'), 'ix-memcached': modelColumns('IX'), dsm: modelColumns('Dune'),
};

/** The bench JSON of `suite` (an array of results, as `--json` writes it). */
export function readBench(suite: string, dir = BENCH_DIR): BenchResult {
  const doc = JSON.parse(readFileSync(join(dir, `${suite}.json`), 'utf8')) as BenchResult[];
  const r = Array.isArray(doc) ? doc.find((x) => x.suite === suite) : undefined;
  if (r === undefined) throw new Error(`${suite}.json holds no result of suite ${suite}`);
  return r;
}

/** README text with each suite's block replaced by the table its result gives. */
export function renderReadme(text: string, results: ReadonlyMap<string, BenchResult>): string {
  let out = text;
  for (const suite of README_SUITES) {
    const r = results.get(suite);
    if (r === undefined) throw new Error(`no bench result for ${suite}`);
    const open = `<!-- readme-figures:${suite} -->`;
    const close = `<!-- /readme-figures:${suite} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} block`);
    out = `${out.slice(0, a + open.length)}\n${RENDER[suite](r)}\n${out.slice(b)}`;
  }
  return out;
}

/** What the README should read, from the committed bench JSON. */
export function expectedReadme(text = readFileSync(README, 'utf8'), dir = BENCH_DIR): string {
  return renderReadme(text, new Map(README_SUITES.map((s) => [s, readBench(s, dir)])));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = readFileSync(README, 'utf8');
  const want = expectedReadme(text);
  if (process.argv.includes('--check')) {
    if (want !== text) {
      process.stderr.write('README.md is stale: run npx tsx scripts/readme-figures.ts\n');
      process.exitCode = 1;
    }
  } else if (want !== text) {
    writeFileSync(README, want);
    process.stderr.write('wrote README.md\n');
  }
}
