import { Container, ContainerModule } from 'inversify';
import { coreModule } from './core-module.js';
import { LoadedPlugin, loadPlugins, readManifest } from './plugin-manifest.js';

export interface DunesimContainer {
  container: Container;
  plugins: LoadedPlugin[];
}

/**
 * The composition root: a fresh container per run (runs never share a machine), the core
 * modules first, then every plugin of the manifest. A plugin whose module throws while loading is
 * reported (name and error) and skipped; the rest still load.
 */
export async function createContainer(opts: { plugins?: boolean; extra?: ContainerModule[] } = {}): Promise<DunesimContainer> {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(coreModule);
  const plugins = opts.plugins === false ? [] : await loadPlugins(readManifest());
  for (const p of plugins) {
    if (p.module === undefined) continue;
    try {
      container.load(p.module);
    } catch (e) {
      p.error = (e as Error).message;
    }
  }
  for (const m of opts.extra ?? []) container.load(m);
  return { container, plugins };
}
