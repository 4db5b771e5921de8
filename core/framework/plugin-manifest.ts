import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContainerModule } from 'inversify';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PluginManifestEntry {
  /** Plugin id, also its folder under plugins/. */
  name: string;
  description: string;
  /** Module path relative to the repository root (default plugins/<name>/index.ts). */
  module?: string;
}

export interface LoadedPlugin {
  entry: PluginManifestEntry;
  module?: ContainerModule;
  error?: string;
}

export function readManifest(path = join(ROOT, 'plugins', 'manifest.json')): PluginManifestEntry[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { plugins?: PluginManifestEntry[] };
  if (!Array.isArray(raw.plugins)) throw new Error(`${path}: 'plugins' must be an array`);
  return raw.plugins;
}

/**
 * Imports each plugin's default-exported ContainerModule. A plugin that fails to load is reported
 * by name with its error, and the others still load.
 */
export async function loadPlugins(entries: PluginManifestEntry[]): Promise<LoadedPlugin[]> {
  const out: LoadedPlugin[] = [];
  for (const entry of entries) {
    const rel = entry.module ?? join('plugins', entry.name, 'index.ts');
    try {
      const mod = (await import(join(ROOT, rel))) as { default?: ContainerModule };
      if (mod.default === undefined) throw new Error(`${rel} has no default export (a ContainerModule)`);
      out.push({ entry, module: mod.default });
    } catch (e) {
      out.push({ entry, error: (e as Error).message });
    }
  }
  return out;
}
