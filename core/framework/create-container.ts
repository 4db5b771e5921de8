import { Container, ContainerModule } from 'inversify';
import { ConfigError } from '../config-error.js';
import { BenchSuite } from '../bench/bench-suite.js';
import { Application } from './application.js';
import { CliCommand } from './cli-command.js';
import { coreModule } from './core-module.js';
import { ExecMode } from './exec-mode.js';
import { LoadedPlugin, LoadedPlugins, loadPlugins, mergeManifests, readManifest } from './plugin-manifest.js';
import { VmExitHandler } from './vm-exit-handler.js';
import { SyscallContribution } from './syscall-contribution.js';
import { CostContribution } from './cost-contribution.js';
import { checkCostContributions } from './check-cost-contributions.js';

export interface DunesimContainer {
  container: Container;
  plugins: LoadedPlugin[];
}

export interface CreateContainerOptions {
  /** false: core only (tests that must not depend on what plugins exist). */
  plugins?: boolean;
  /** Manifest to read instead of plugins/manifest.json (tests). */
  manifest?: string;
  /** A personal manifest whose entries add to (or replace, or disable) the bundled ones (`DUNESIM_MANIFEST`). */
  personalManifest?: string;
  /** Modules loaded after the plugins (tests add fakes this way). */
  extra?: ContainerModule[];
}

/** The extension points the core collects: what a plugin's bindings must resolve for. */
export const CONTRIBUTION_POINTS: readonly symbol[] = [CliCommand, Application, BenchSuite, ExecMode, VmExitHandler, SyscallContribution, CostContribution];

/**
 * Resolves every contribution point in a throwaway container holding the core, the plugins that
 * passed so far and `candidate`: a binding that cannot be resolved (a constructor that asks for a
 * token nobody bound, a class without @injectable) fails here, named after its plugin, instead of
 * failing every command later when the CLI asks for its commands. So does a contribution that
 * takes a name already taken: an exec mode's id, a cost constant's name. Returns the error, if any.
 */
function resolveError(accepted: readonly ContainerModule[], candidate: ContainerModule): string | undefined {
  const trial = new Container({ defaultScope: 'Singleton' });
  try {
    trial.load(coreModule, ...accepted, candidate);
    trial.bind<LoadedPlugin[]>(LoadedPlugins).toConstantValue([]);
    for (const point of CONTRIBUTION_POINTS) {
      if (trial.isBound(point)) trial.getAll(point);
    }
    checkModeIds(trial.getAll<ExecMode>(ExecMode));
    if (trial.isBound(CostContribution)) checkCostContributions(trial.getAll<CostContribution>(CostContribution));
    return undefined;
  } catch (e) {
    // inversify's messages run over several lines and end in a dump of binding constraints; the
    // report is one line per plugin.
    return (e as Error).message.split(/\s*Binding constraints:/)[0]!.replace(/\s*\n\s*/g, ' ').trim();
  }
}

/** Two exec modes of one id: `--mode` could not tell them apart. */
function checkModeIds(modes: readonly ExecMode[]): void {
  const seen = new Set<string>();
  for (const m of modes) {
    if (seen.has(m.id)) throw new ConfigError(`exec mode '${m.id}' is contributed twice; --mode could not tell them apart`);
    seen.add(m.id);
  }
}

/**
 * The composition root: a fresh container per run (runs never share a machine), the core
 * modules first, then every plugin of the manifest. A plugin whose module fails to import,
 * throws while loading, or whose bindings do not resolve is recorded (name and error) and
 * skipped; the rest still load. Reporting the errors is the caller's job, so that it happens once
 * (see `reportPluginErrors`).
 */
export async function createContainer(opts: CreateContainerOptions = {}): Promise<DunesimContainer> {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(coreModule);
  let entries = opts.plugins === false ? [] : readManifest(opts.manifest);
  if (opts.plugins !== false && opts.personalManifest !== undefined) entries = mergeManifests(entries, readManifest(opts.personalManifest));
  const plugins = await loadPlugins(entries);
  const accepted: ContainerModule[] = [];
  for (const p of plugins) {
    if (p.module === undefined) continue;
    const error = resolveError(accepted, p.module);
    if (error !== undefined) {
      p.error = error;
      p.module = undefined;
      continue;
    }
    container.load(p.module);
    accepted.push(p.module);
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
