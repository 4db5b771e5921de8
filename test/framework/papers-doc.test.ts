import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import type { BenchResult } from '../../core/bench/bench-suite.js';
import { PAPER_TABLE4 } from '../../plugins/sandbox/httpd-rows.js';
import { PAPER_LGPG } from '../../plugins/sandbox/large-page-rows.js';

/** docs/papers.md lists every published figure the suites compare with: none used is missing there. */
const DOC = readFileSync(join(ROOT, 'docs', 'papers.md'), 'utf8').replace(/(\d),(\d{3})/g, '$1$2').replace(/−/g, '-');

function listed(v: number): boolean {
  return DOC.includes(String(v));
}

describe('docs/papers.md', () => {
  it('holds every paper figure of the committed bench results and of the sandbox suite', () => {
    const figures: number[] = [];
    for (const file of ['dune-micro.json', 'threads.json', 'net-linux.json', 'ix.json', 'memcached-linux.json']) {
      for (const r of JSON.parse(readFileSync(join(ROOT, 'docs', 'bench', file), 'utf8')) as BenchResult[]) {
        for (const row of r.rows) for (const v of [row.paper?.linux, row.paper?.dune]) if (v !== undefined) figures.push(v);
      }
    }
    for (const t of Object.values(PAPER_TABLE4)) figures.push(t.linux, t.dune);
    figures.push(PAPER_LGPG.linux, PAPER_LGPG.dune, 2.93);
    expect(figures.length).toBeGreaterThan(20);
    expect(figures.filter((v) => !listed(v))).toEqual([]);
  });

  it('is linked from the README and names no source outside the repository', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('docs/papers.md');
    expect(DOC).not.toMatch(/\.\.\/shared|papers\.md §/);
  });
});
