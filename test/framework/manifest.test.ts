import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Application } from '../../core/framework/application.js';
import { ConfigError } from '../../core/config-error.js';
import { createContainer } from '../../core/framework/create-container.js';
import { ListCommand } from '../../core/cli/list-command.js';
import { ROOT, mergeManifests, readManifest } from '../../core/framework/plugin-manifest.js';

/** Writes a manifest into a fresh directory; returns its path and a cleanup. */
function manifest(plugins: unknown): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-manifest-'));
  const path = join(dir, 'manifest.json');
  writeFileSync(path, JSON.stringify({ plugins }));
  return { path, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const FIXTURE = join(ROOT, 'test', 'framework', 'fixtures', 'exit-code-plugin.ts');

describe('a personal manifest (DUNESIM_MANIFEST)', () => {
  it('adds to the bundled plugins: the sandbox stays, the new plugin loads from an absolute module path', async () => {
    const m = manifest([{ name: 'fixture', module: FIXTURE }]);
    try {
      const { container, plugins } = await createContainer({ personalManifest: m.path });
      // The bundled plugins in manifest order (whatever plugins/ holds), then the personal one.
      expect(plugins.map((p) => p.entry.name)).toEqual([...readManifest().map((e) => e.name), 'fixture']);
      expect(plugins.map((p) => p.entry.name)).toContain('sandbox');
      expect(plugins.every((p) => p.error === undefined)).toBe(true);
      const apps = container.getAll<Application>(Application).map((a) => `${a.plugin}/${a.id}`);
      expect(apps).toContain('sandbox/compare');
      expect(apps).toContain('fixture/exit');
      // No description in the entry: listed as such, never as 'undefined'.
      const list = container.get(ListCommand).render();
      expect(list).toMatch(/fixture\s+\(no description\)/);
      expect(list).not.toContain('undefined');
    } finally {
      m.done();
    }
  });

  it('"disabled": true removes a bundled plugin; an entry of a bundled name replaces it', () => {
    const bundled = readManifest();
    const merged = mergeManifests(bundled, [
      { name: 'sandbox', description: '', disabled: true },
      { name: 'tlb-reach', description: 'mine', module: FIXTURE },
    ]);
    expect(merged.map((e) => e.name)).toEqual(bundled.map((e) => e.name).filter((n) => n !== 'sandbox'));
    expect(merged.find((e) => e.name === 'tlb-reach')!.description).toBe('mine');
  });

  it('a malformed entry is a one-line configuration error naming it', () => {
    for (const [plugins, msg] of [
      [[{ description: 'no name' }], /plugins\[0\] needs a "name"/],
      [[{ name: 'x', module: 3 }], /plugins\[0\] \('x'\): "module" must be a string/],
      [['x'], /plugins\[0\] must be an object/],
      [{ name: 'x' }, /'plugins' must be an array/],
    ] as const) {
      const m = manifest(plugins);
      try {
        expect(() => readManifest(m.path)).toThrow(ConfigError);
        expect(() => readManifest(m.path)).toThrow(msg);
      } finally {
        m.done();
      }
    }
  });
});
