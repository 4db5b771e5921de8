import { Container, ContainerModule } from 'inversify';
import { coreModule } from './core-module.js';
import { LoadedPlugin, LoadedPlugins, loadPlugins, readManifest } from './plugin-manifest.js';

export interface DunesimContainer {
  container: Container;
  plugins: LoadedPlugin[];
}

export interface CreateContainerOptions {
  /** false: core only (tests that must not depend on what plugins exist). */
  plugins?: boolean;
  /** Manifest to read instead of plugins/manifest.json (tests, `DUNESIM_MANIFEST`). */
  manifest?: string;
  /** Modules loaded after the plugins (tests add fakes this way). */
  extra?: ContainerModule[];
}

/**
 * The composition root: a fresh container per run (runs never share a machine), the core
 * modules first, then every plugin of the manifest. A plugin whose module fails to import or
 * throws while loading is recorded (name and error) and skipped; the rest still load. Reporting
 * the errors is the caller's job, so that it happens once (see `reportPluginErrors`).
 */
export async function createContainer(opts: CreateContainerOptions = {}): Promise<DunesimContainer> {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(coreModule);
  const plugins = opts.plugins === false ? [] : await loadPlugins(readManifest(opts.manifest));
  for (const p of plugins) {
    if (p.module === undefined) continue;
    try {
      container.load(p.module);
    } catch (e) {
      p.error = (e as Error).message;
      // The bindings it made before throwing would resolve to half a plugin: take them out.
      try {
        container.unload(p.module);
      } catch {
        // Nothing was recorded for it; nothing to remove.
      }
      p.module = undefined;
    }
  }
  container.bind<LoadedPlugin[]>(LoadedPlugins).toConstantValue(plugins);
  for (const m of opts.extra ?? []) container.load(m);
  return { container, plugins };
}

/** Writes one line per plugin that failed to load. */
export function reportPluginErrors(plugins: readonly LoadedPlugin[], err: NodeJS.WritableStream): void {
  for (const p of plugins) {
    if (p.error !== undefined) err.write(`dunesim: plugin '${p.entry.name}' failed to load: ${p.error}\n`);
  }
}
