import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { README_SUITES, expectedReadme, readBench, renderReadme } from '../../scripts/readme-figures.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README figures', () => {
  it('are what scripts/readme-figures.ts writes from the committed bench JSON (docs/bench)', () => {
    // Fails when the README was edited by hand or the JSON re-measured without re-running the script.
    expect(README).toBe(expectedReadme(README));
  });

  it('follow the JSON: another figure gives another README', () => {
    const results = new Map(README_SUITES.map((s) => [s, readBench(s)]));
    const dm = results.get('dune-micro')!;
    const getpid = dm.rows.find((r) => r.id === 'getpid')!;
    const changed = { ...dm, rows: dm.rows.map((r) => (r === getpid ? { ...r, dune: 1234 } : r)) };
    const text = renderReadme(README, new Map([...results, ['dune-micro', changed]]));
    expect(text).not.toBe(README);
    expect(text).toMatch(/\| getpid \| 138 \| 1,234 \| 138 \| 895 \| 0\.0 % \| \+37\.9 % \| Dune Table 2 \|/);
  });

  it('the committed bench JSON is what `bench --json` writes: an array of results', () => {
    for (const s of README_SUITES) {
      const doc = JSON.parse(readFileSync(join(ROOT, 'docs', 'bench', `${s}.json`), 'utf8')) as unknown;
      expect(Array.isArray(doc)).toBe(true);
    }
  });
});

// The plugin guide's own example (a file the reader creates, a plugin it adds): built and run by
// readme-guide.test.ts, so it may be named though the repository does not hold it.
const GUIDE_FILES = [...README.matchAll(/<!-- guide-file: ([\w./-]+) -->/g)].map((m) => m[1]!);
const GUIDE_PLUGINS = [...README.matchAll(/<!-- guide-file: manifest entry -->\n```json\n\{ "name": "([\w-]+)"/g)].map((m) => m[1]!);

describe('README refers only to what the repository holds', () => {
  it('no references outside it', () => {
    // Every Markdown file it names is one of the repository's own (docs/, a plugin's README …).
    const own = new Set(['README.md']);
    for (const dir of ['docs', 'plugins', 'examples']) {
      for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) if (f.endsWith('.md')) own.add(basename(f));
    }
    for (const m of README.matchAll(/([\w-]+\.md)\b/g)) expect(own, m[1]).toContain(m[1]);
    expect(README).not.toContain('once the interpreter lands');
    // No path climbs out of the repository: a `../` starts only the guide's imports, which go back
    // up from plugins/page-walk to the repository's own core/ (`../../core/…`).
    expect(README).not.toMatch(/(^|[\s(`'"])\.\.\/(?!\.\.\/core\/|core\/)/m);
    // The papers' figures are the repository's own docs/papers.md, not a reference file beside it.
    expect(README).not.toMatch(/(?<!docs\/)papers\.md/);
  });

  it('holds no merge-conflict markers (nor do the docs)', () => {
    const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => [f, readFileSync(join(ROOT, 'docs', f), 'utf8')] as const);
    for (const [name, text] of [['README.md', README] as const, ...docs]) {
      expect(text, name).not.toMatch(/^(<{7} |={7}$|>{7} )/m);
    }
  });

  it('every repository path it names exists', () => {
    const paths = new Set<string>();
    for (const m of README.matchAll(/(?<![\w/.-])((?:core|plugins|examples|scripts|docs|test|bin)\/[\w./-]*)/g)) paths.add(m[1]!.replace(/[.,:;]+$/, ''));
    expect(paths.size).toBeGreaterThan(20);
    const missing = [...paths].filter((p) => !existsSync(join(ROOT, p)) && !GUIDE_FILES.includes(p));
    expect(GUIDE_FILES).toContain('plugins/page-walk/index.ts');
    expect(missing).toEqual([]);
  });

  it('names no plugin the manifest does not have as if it existed', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'plugins', 'manifest.json'), 'utf8')) as { plugins: Array<{ name: string }> };
    const names = manifest.plugins.map((p) => p.name);
    // `run <plugin>/<app>` and `bench <suite>` examples use plugins that are installed.
    expect(GUIDE_PLUGINS).toEqual(['page-walk']);
    for (const m of README.matchAll(/dunesim run ([\w-]+)\//g)) expect([...names, ...GUIDE_PLUGINS]).toContain(m[1]);
  });
});
