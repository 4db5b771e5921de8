import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ContainerModule, injectable } from 'inversify';
import { Application, RunResult } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { ConfigError } from '../../core/config-error.js';
import { CliCommand } from '../../core/framework/cli-command.js';
import { createContainer, reportPluginErrors } from '../../core/framework/create-container.js';
import { ListCommand } from '../../core/cli/list-command.js';
import { LoadedPlugins, ROOT } from '../../core/framework/plugin-manifest.js';
import { RunCommand } from '../../core/cli/run-command.js';
import { UsageError } from '../../core/framework/usage-error.js';

const FIXTURE_MANIFEST = join(ROOT, 'test', 'framework', 'fixtures', 'manifest.json');

/** Collects what is written to it, for reportPluginErrors. */
function sink(): NodeJS.WritableStream & { text: string } {
  const s = { text: '', write(chunk: string): boolean { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WritableStream & { text: string };
}

@injectable()
class FakeApplication implements Application {
  readonly plugin = 'fake';
  readonly id = 'one';
  readonly description = 'a test application';
  run(): RunResult {
    return { exitCode: 0 };
  }
}

describe('createContainer', () => {
  it('loads the core commands and suites, and the manifest plugins', async () => {
    const { container, plugins } = await createContainer();
    const commands = container.getAll<CliCommand>(CliCommand);
    expect(commands.some((c) => c instanceof ListCommand)).toBe(true);
    expect(commands.some((c) => c instanceof RunCommand)).toBe(true);
    expect(commands).toHaveLength(5); // list, run, bench, exec, profile
    const suites = container.getAll<BenchSuite>(BenchSuite).map((s) => s.id);
    expect(suites).toContain('vtx');
    expect(suites).toContain('tlb-reach');
    const apps = container.getAll<Application>(Application).map((a) => `${a.plugin}/${a.id}`);
    expect(apps).toContain('tlb-reach/sweep');
    expect(plugins.find((p) => p.entry.name === 'tlb-reach')?.error).toBeUndefined();
    expect(container.get(LoadedPlugins)).toBe(plugins);
  });

  it('without plugins, has the core only; extra modules come last', async () => {
    const extra = new ContainerModule(({ bind }) => {
      bind(FakeApplication).toSelf();
      bind(Application).toService(FakeApplication);
    });
    const { container, plugins } = await createContainer({ plugins: false, extra: [extra] });
    expect(plugins).toEqual([]);
    expect(container.getAll<BenchSuite>(BenchSuite).map((s) => s.id)).toEqual(['vtx', 'dune-micro', 'exec', 'threads', 'net-linux', 'memcached-linux']);
    expect(container.getAll<Application>(Application).map((a) => a.id)).toEqual(['one']);
  });

  it('records plugins that fail to load, drops their partial bindings, and loads the rest', async () => {
    const { container, plugins } = await createContainer({ manifest: FIXTURE_MANIFEST });
    const errors = Object.fromEntries(plugins.map((p) => [p.entry.name, p.error]));
    expect(errors['broken-import']).toBe('boom at import');
    expect(errors['throws-on-load']).toBe('boom in load');
    expect(errors['not-a-module']).toMatch(/no default export that is a ContainerModule/);
    expect(errors['missing']).toMatch(/missing\.ts/);
    expect(errors['unresolved']).toMatch(/^No bindings found for service: "Symbol\(Missing\)"\. Trying to resolve bindings for "NeedsMissing"\.$/);
    expect(errors['fixture']).toBeUndefined();
    // The application throws-on-load bound before it threw is gone; the good plugin's is there.
    const apps = container.getAll<Application>(Application).map((a) => `${a.plugin}/${a.id}`);
    expect(apps).toEqual(['fixture/exit']);

    const err = sink();
    reportPluginErrors(plugins, err);
    const lines = err.text.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines).toContain("dunesim: plugin 'broken-import' failed to load: boom at import");
    expect(lines).toContain("dunesim: plugin 'throws-on-load' failed to load: boom in load");

    const list = container.getAll<CliCommand>(CliCommand).find((c): c is ListCommand => c instanceof ListCommand)!;
    expect(list.render()).toContain('FAILED TO LOAD: boom in load');
    const doc = list.document();
    expect(doc.plugins.find((p) => p.name === 'fixture')?.applications).toEqual(['fixture/exit']);
    expect(doc.plugins.find((p) => p.name === 'broken-import')?.error).toBe('boom at import');
  });
});

describe('RunCommand.find', () => {
  it('finds by plugin and id, and lists what exists otherwise', async () => {
    const { container } = await createContainer();
    const run = container.get(RunCommand);
    expect(run.find('tlb-reach/sweep').id).toBe('sweep');
    expect(() => run.find('nope/x')).toThrow(UsageError);
    expect(() => run.find('nope/x')).toThrow(/unknown plugin 'nope'.*tlb-reach\/sweep/);
    expect(() => run.find('tlb-reach/nope')).toThrow(/no application 'nope'; it has: tlb-reach\/sweep/);
    expect(() => run.find('tlb-reach')).toThrow(/expected <plugin>\/<app>/);
  });
});

describe('readManifest', () => {
  it('a missing manifest is a configuration error', async () => {
    await expect(createContainer({ manifest: join(ROOT, 'no-such-manifest.json') })).rejects.toThrow(ConfigError);
  });
});
