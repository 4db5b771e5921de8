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

/** The guide's plugin, where the guide says to save it (relative imports as written). */
function writeGuidePlugin(): void {
  expect(README).toContain('Beside it, `plugins/page-walk/run-hooks.ts`');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'index.ts'), guideBlock('plugins/page-walk/index.ts'));
  writeFileSync(join(folder, 'run-hooks.ts'), guideBlock('plugins/page-walk/run-hooks.ts'));
}

describe('README plugin guide', () => {
  it('builds the page-walk plugin from the README text, runs its application and its bench suite', () => {
    // Where the guide says to save it: plugins/page-walk/index.ts (relative imports as written).
    expect(README).toContain('Save it as `plugins/page-walk/index.ts`');
    writeGuidePlugin();
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

  it("runs the guide's contributions to how programs run: an exec mode, a VM-exit handler, a system call, a cost constant", () => {
    writeGuidePlugin();
    const entry = JSON.parse(guideBlock('manifest entry')) as { name: string; description: string };
    const manifest = join(scratch, 'manifest-hooks.json');
    writeFileSync(manifest, JSON.stringify({ plugins: [{ ...entry, module: join(folder, 'index.ts') }] }));

    // ExecMode: listed by --mode, run like linux, its own figures under its id in --stats.
    expect(dunesim(['exec', '--help'], manifest).stdout).toContain('linux | dune | sandbox | ptrace | walk-rate');
    const statsFile = join(scratch, 'walk-rate.json');
    const rate = dunesim(['exec', '--mode', 'walk-rate', '--stats', statsFile, '--', join(ROOT, 'examples', 'guest', 'bin', 'hello')], manifest);
    expect(rate.status, rate.stderr).toBe(0);
    expect(rate.stdout).toContain('Hello, Dune!');
    const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as { mode: string; pageWalks: number; instructions: number; 'walk-rate': { walksPer1000Instructions: number } };
    expect(stats.mode).toBe('walk-rate');
    expect(stats.pageWalks).toBeGreaterThan(0);
    expect(stats['walk-rate'].walksPer1000Instructions).toBeCloseTo((1000 * stats.pageWalks) / stats.instructions, 9);

    // VmExitHandler: the CPUID exit of leaf 0x40000000 answered in VMX root (CPUID exits unconditionally: SDM Vol. 3C, Instructions That Cause VM Exits Unconditionally).
    const cpuid = dunesim(['exec', '--mode', 'dune', '--', join(ROOT, 'test', 'dune', 'programs', 'bin', 'cpuid-leaf')], manifest);
    expect(cpuid.stderr).toBe('');
    expect(cpuid.stdout).toBe("max leaf 0x40000000, signature 'pageWalkLeaf'\n");

    // SyscallContribution: call 1000 answers, 1001 is still ENOSYS; strace names the call.
    const call = dunesim(['exec', '--strace', '--', join(ROOT, 'test', 'dune', 'programs', 'bin', 'private-call')], manifest);
    expect(call.stdout).toBe('1000(6, 7) = 42\n1001() = -1 errno Function not implemented\n');
    expect(call.stderr).toContain('[strace] 1 dunesim_multiply(6, 7) = 42');

    // CostContribution: listed with its source after the core's constants.
    const profile = dunesim(['profile', '--sources'], manifest);
    expect(profile.status, profile.stderr).toBe(0);
    expect(profile.stdout).toMatch(/plugin page-walk[^\n]*:\n\s+multiplyCallBody\s+3 instructions/);
    expect(profile.stdout).toContain('source: counted from the handler below');
  });
});
