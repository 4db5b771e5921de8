import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ContainerModule } from 'inversify';
import { ConfigError } from '../config-error.js';

/** The repository root: manifest module paths are relative to it, whichever manifest lists them. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The manifest `dunesim` reads unless told otherwise. */
export const DEFAULT_MANIFEST = join(ROOT, 'plugins', 'manifest.json');

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
  /** Why the plugin is not loaded (import failed, no default export, its module threw). */
  error?: string;
}

/**
 * Token for the plugins of this run as the composition root found them (loaded or failed), bound
 * as a constant so that commands such as `list` can show load errors.
 */
export const LoadedPlugins = Symbol('LoadedPlugins');

/** The manifest's entries; a missing or malformed manifest is a ConfigError (exit status 2). */
export function readManifest(path = DEFAULT_MANIFEST): PluginManifestEntry[] {
  let raw: { plugins?: PluginManifestEntry[] };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as { plugins?: PluginManifestEntry[] };
  } catch (e) {
    throw new ConfigError(`cannot read the plugin manifest ${path}: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw.plugins)) throw new ConfigError(`${path}: 'plugins' must be an array`);
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
      // A file URL, not a bare absolute path, so the import also works on Windows.
      const mod = (await import(pathToFileURL(join(ROOT, rel)).href)) as { default?: unknown };
      // instanceof rather than a shape check: a module that exports something else by mistake
      // (a class, a function) would otherwise fail later inside container.load with a worse message.
      if (!(mod.default instanceof ContainerModule)) throw new Error(`${rel} has no default export that is a ContainerModule`);
      out.push({ entry, module: mod.default });
    } catch (e) {
      out.push({ entry, error: (e as Error).message });
    }
  }
  return out;
}
