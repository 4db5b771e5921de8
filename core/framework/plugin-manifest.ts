import { oneLine, readInputFile } from './read-input-file.js';
import { dirname, join, resolve } from 'node:path';
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
  /** One line for `dunesim list` ('' when the manifest gives none). */
  description: string;
  /** Module path, absolute or relative to the repository root (default plugins/<name>/index.ts). */
  module?: string;
  /** In a personal manifest: true removes the bundled plugin of this name. */
  disabled?: boolean;
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
    raw = JSON.parse(readInputFile(path)) as { plugins?: PluginManifestEntry[] };
  } catch (e) {
    throw new ConfigError(`cannot read the plugin manifest ${path}: ${oneLine((e as Error).message)}`);
  }
  if (raw === null || typeof raw !== 'object' || !Array.isArray(raw.plugins)) throw new ConfigError(`${path}: 'plugins' must be an array`);
  return raw.plugins.map((e: unknown, i) => checkEntry(path, i, e));
}

/** One entry, checked field by field, so that a typo is a one-line error naming it, not `undefined` in a listing. */
function checkEntry(path: string, i: number, e: unknown): PluginManifestEntry {
  const where = `${path}: plugins[${i}]`;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new ConfigError(`${where} must be an object`);
  const o = e as Record<string, unknown>;
  if (typeof o['name'] !== 'string' || o['name'] === '') throw new ConfigError(`${where} needs a "name" (a non-empty string)`);
  const name = o['name'];
  for (const k of ['description', 'module'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new ConfigError(`${where} ('${name}'): "${k}" must be a string`);
  }
  if (o['disabled'] !== undefined && typeof o['disabled'] !== 'boolean') throw new ConfigError(`${where} ('${name}'): "disabled" must be true or false`);
  return {
    name,
    description: (o['description'] as string | undefined) ?? '',
    ...(o['module'] !== undefined ? { module: o['module'] as string } : {}),
    ...(o['disabled'] === true ? { disabled: true } : {}),
  };
}

/**
 * The bundled manifest's entries with a personal manifest's (`DUNESIM_MANIFEST`) on top: an entry
 * of a new name adds a plugin, one of a bundled name replaces that plugin's entry, and one with
 * `"disabled": true` removes it. The bundled plugins keep their order; new ones come after.
 */
export function mergeManifests(bundled: readonly PluginManifestEntry[], personal: readonly PluginManifestEntry[]): PluginManifestEntry[] {
  const out = new Map<string, PluginManifestEntry>();
  for (const e of bundled) out.set(e.name, e);
  for (const e of personal) out.set(e.name, e);
  return [...out.values()].filter((e) => e.disabled !== true);
}

/** Where an entry's module is: an absolute `module` as it is, a relative one under the repository root. */
export function modulePath(entry: PluginManifestEntry): string {
  return resolve(ROOT, entry.module ?? join('plugins', entry.name, 'index.ts'));
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
      const mod = (await import(pathToFileURL(modulePath(entry)).href)) as { default?: unknown };
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
