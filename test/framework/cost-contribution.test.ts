import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../core/config-error.js';
import { checkCostContributions } from '../../core/framework/check-cost-contributions.js';
import { CostContribution } from '../../core/framework/cost-contribution.js';
import { createContainer } from '../../core/framework/create-container.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { ProfileCommand, ProfileDocument } from '../../core/cli/profile-command.js';
import { SANDBOX_COST_CONSTANTS } from '../../plugins/sandbox/sandbox-cost-constants.js';

/** CostContribution: a plugin's own cost constants, each with its source, beside the core profile's. */
const FIXTURES = join(ROOT, 'test', 'system', 'fixtures');
const one = (plugin: string, name: string, extra: Partial<Record<'value' | 'unit' | 'description' | 'source', unknown>> = {}): CostContribution =>
  ({ plugin, constants: { [name]: { value: 5, unit: 'instructions', description: 'a step', source: 'counted', ...extra } } }) as CostContribution;

function withManifest<T>(plugins: unknown[], body: (path: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-costs-'));
  const path = join(dir, 'manifest.json');
  writeFileSync(path, JSON.stringify({ plugins }));
  return Promise.resolve(body(path)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('CostContribution', () => {
  it("refuses a name the core's profiles have, or another plugin's, and a constant without a value or a source", () => {
    expect(() => checkCostContributions([one('a', 'syscallPath')])).toThrow(ConfigError);
    expect(() => checkCostContributions([one('a', 'syscallPath')])).toThrow(/cost constant 'syscallPath' \(plugin 'a'\) has the name of a constant of the core's profiles \(Linux system-call entry/);
    expect(() => checkCostContributions([one('a', 'stepCost'), one('b', 'stepCost')])).toThrow("cost constant 'stepCost' (plugin 'b') is also declared by plugin 'a'; give it a name of its own");
    expect(() => checkCostContributions([one('a', 'stepCost', { source: ' ' })])).toThrow("cost constant 'stepCost' (plugin 'a') needs a 'source'");
    expect(() => checkCostContributions([one('a', 'stepCost', { value: -1 })])).toThrow("needs a non-negative number 'value'");
    expect(() => checkCostContributions([one('a', 'step-cost')])).toThrow('a name is camelCase letters and digits');
    expect(() => checkCostContributions([one('a', 'stepCost'), one('b', 'otherCost')])).not.toThrow();
  });

  it('a plugin whose constant clashes fails to load at startup, named with the reason; the others load', async () => {
    await withManifest([
      { name: 'sandbox' },
      { name: 'clash-core', module: join(FIXTURES, 'cost-clash-core.ts') },
      { name: 'clash-sandbox', module: join(FIXTURES, 'cost-clash-sandbox.ts') },
      { name: 'own-costs', module: join(FIXTURES, 'own-costs.ts') },
    ], async (manifest) => {
      const { container, plugins } = await createContainer({ manifest });
      const errors = Object.fromEntries(plugins.map((p) => [p.entry.name, p.error]));
      expect(errors['sandbox']).toBeUndefined();
      expect(errors['own-costs']).toBeUndefined();
      expect(errors['clash-core']).toMatch(/^cost constant 'syscallPath' \(plugin 'clash-core'\) has the name of a constant of the core's profiles/);
      expect(errors['clash-sandbox']).toBe("cost constant 'sandboxDispatch' (plugin 'clash-sandbox') is also declared by plugin 'sandbox'; give it a name of its own");
      const doc: ProfileDocument = container.get(ProfileCommand).document('dune-e3-1230v2');
      expect(doc.plugins.map((p) => p.plugin)).toEqual(['sandbox', 'own-costs']);
      expect(doc.plugins[1]!.constants).toEqual({ ownCostsStep: { value: 7, unit: 'instructions', description: 'one step of the plugin', source: 'counted from a test' } });
    });
  });

  it("`dunesim profile` lists the sandbox's constants with their sources; a clash is one line on stderr", async () => {
    await withManifest([{ name: 'clash-core', module: join(FIXTURES, 'cost-clash-core.ts') }], (manifest) => {
      const json = join(tmpdir(), `dunesim-profile-${process.pid}.json`);
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'profile', '--sources', '--json', json], {
        cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DUNESIM_MANIFEST: manifest },
      });
      try {
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr.split('\n')[0]).toMatch(/^dunesim: plugin 'clash-core' failed to load: cost constant 'syscallPath' \(plugin 'clash-core'\) has the name of a constant of the core's profiles/);
        const doc = JSON.parse(readFileSync(json, 'utf8')) as ProfileDocument;
        expect(doc.profile.name).toBe('dune-e3-1230v2');
        expect(doc.plugins).toEqual([{ plugin: 'sandbox', constants: SANDBOX_COST_CONSTANTS }]);
      } finally {
        rmSync(json, { force: true });
      }
      const text = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'profile', '--sources'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }).stdout;
      expect(text).toMatch(/^\s+syscallPath\s+\d+ cycles\s+Linux system-call entry/m);
      expect(text).toMatch(/^\s+sandboxDispatch\s+12 instructions\s+the runtime's system-call dispatch/m);
      expect(text).toContain("source: first-order count, not measured, of apps/sandbox/trap.c's syscall handler");
    });
  });
});
