import { describe, expect, it, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';

/**
 * The README's plugin guide ends with a whole plugin. This test takes the code blocks marked
 * `<!-- guide-file: … -->` from the README as they stand, puts the plugin where the guide says
 * (in a uniquely named folder beside plugins/page-walk, so it cannot clobber one), adds the
 * guide's manifest entry through DUNESIM_MANIFEST, and runs what the guide says to run.
 */
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function guideBlock(name: string): string {
  const m = new RegExp(`<!-- guide-file: ${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (m === null) throw new Error(`README has no guide block '${name}'`);
  return m[1]!;
}

const folder = join(ROOT, 'plugins', `page-walk.guide-test-${process.pid}`);
const scratch = mkdtempSync(join(tmpdir(), 'dunesim-guide-'));
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function dunesim(args: string[], manifest: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DUNESIM_MANIFEST: manifest },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('README plugin guide', () => {
  it('builds the page-walk plugin from the README text, runs its application and its bench suite', () => {
    // Where the guide says to save it: plugins/page-walk/index.ts (relative imports as written).
    expect(README).toContain('Save it as `plugins/page-walk/index.ts`');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'index.ts'), guideBlock('plugins/page-walk/index.ts'));
    const entry = JSON.parse(guideBlock('manifest entry')) as { name: string; description: string; module?: string };
    expect(entry.name).toBe('page-walk');
    const manifest = join(scratch, 'manifest.json');
    writeFileSync(manifest, JSON.stringify({ plugins: [{ ...entry, module: join(folder, 'index.ts') }] }));

    const list = dunesim(['list'], manifest);
    expect(list.stderr).toBe(''); // it loaded: no "failed to load" line
    expect(list.stdout).toMatch(/page-walk\s+a cold and a warm read of one page/);

    const run = dunesim(['run', 'page-walk/cold-warm', '--json', join(scratch, 'run.json')], manifest);
    expect(run.status, run.stderr).toBe(0);
    const figures = (JSON.parse(readFileSync(join(scratch, 'run.json'), 'utf8')) as { figures: Record<string, number> }).figures;
    // What the guide promises: one walk; three references, the PML4E coming from the
    // paging-structure cache (SDM Vol. 3A §4.10.3); a hit that costs no cycles of its own.
    expect(README).toContain('one walk for the cold read, of three\nreferences rather than four');
    expect(figures.walks).toBe(1);
    expect(figures.walkReferences).toBe(3);
    expect(figures.coldCycles).toBeGreaterThan(0);
    expect(figures.warmCycles).toBe(0);

    const bench = dunesim(['bench', 'page-walk', '--report', join(scratch, 'pw')], manifest);
    expect(bench.status, bench.stderr).toBe(0);
    expect(bench.stdout).toContain('cold read');
    expect(readFileSync(join(scratch, 'pw', 'index.html'), 'utf8')).toContain('<svg');
  });
});
