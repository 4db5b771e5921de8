import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerModule, injectable } from 'inversify';
import { createContainer } from '../../core/framework/create-container.js';
import { ExecLaunchContext, ExecLauncher, ExecMode } from '../../core/framework/exec-mode.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { ExecResult, GUEST_BIN, LinuxLauncher, System, execElf } from '../../core/system/index.js';
import type { Process } from '../../core/linux/task.js';

/** core/system: one runner for every exec mode, the core's and the plugins' alike. */
const HELLO = join(GUEST_BIN, 'hello');
const quiet = { profile: 'dune-e3-1230v2', memory: 64 << 20, envp: [], console: (): void => {}, report: (): void => {} };

/** A plugin's mode that starts the program as the Linux mode does and counts its launches. */
@injectable()
class CountingMode implements ExecMode {
  readonly id = 'counting';
  readonly description = 'a Linux process, counted';
  launches = 0;
  prepare(): ExecLauncher {
    const linux = new LinuxLauncher();
    return {
      launch: (ctx: ExecLaunchContext): Process => {
        this.launches++;
        return linux.launch(ctx);
      },
      stats: () => ({ launches: this.launches }),
    };
  }
}

const withCounting = new ContainerModule(({ bind }) => {
  bind(CountingMode).toSelf();
  bind(ExecMode).toService(CountingMode);
});

/** Everything a run reports but the wall clock, its mode's name and its mode's own figures. */
function figures(r: ExecResult, mode: string): Record<string, unknown> {
  const { wallSeconds: _w, mode: _m, [mode]: _own, ...rest } = r.stats;
  return rest;
}

describe('System', () => {
  it('knows the modes the container binds: the core\'s linux and dune first, then the plugins\'', async () => {
    const core = (await createContainer({ plugins: false })).container.get(System);
    expect(core.modes.map((m) => m.id)).toEqual(['linux', 'dune']);
    const all = (await createContainer()).container.get(System);
    expect(all.modes.map((m) => m.id)).toEqual(['linux', 'dune', 'sandbox', 'ptrace']);
    expect(all.modeOptions().map((o) => [o.option.flags, o.modes])).toEqual([
      ['--huge-pages', ['linux', 'sandbox']], ['--pcid', ['linux']], ['--no-dune-module', ['linux']], ['--policy <file>', ['sandbox', 'ptrace']],
    ]);
  });

  it('refuses an unknown mode, listing the modes, and an option the chosen mode does not take', async () => {
    const system = (await createContainer()).container.get(System);
    expect(() => system.mode('vmware')).toThrow(new UsageError("--mode must be linux or dune or sandbox or ptrace, got 'vmware'"));
    expect(() => system.prepare('dune', { pcid: true })).toThrow(new UsageError('--pcid needs --mode linux'));
    // A negated flag is given when false: commander's default for --no-dune-module is true.
    expect(() => system.prepare('dune', { duneModule: false })).toThrow(new UsageError('--no-dune-module needs --mode linux'));
    expect(() => system.prepare('dune', { duneModule: true })).not.toThrow();
    expect(() => system.prepare('dune', { hugePages: true })).toThrow(new UsageError('--huge-pages needs --mode linux or --mode sandbox'));
    expect(() => system.prepare('linux', { policy: 'p.json' })).toThrow(new UsageError('--policy needs --mode sandbox or --mode ptrace'));
    expect(system.prepare('linux', { pcid: true, hugePages: false })).toBeInstanceOf(LinuxLauncher);
    // execElf (the core's modes without a container) checks the same way.
    expect(() => execElf(HELLO, [], { ...quiet, mode: 'dune', pcid: true })).toThrow('--pcid needs --mode linux');
  });

  it('runs linux and dune through one runner: the same output; inside Dune every system call of the program is a VMCALL', () => {
    const out = { linux: '', dune: '' };
    const run = (mode: 'linux' | 'dune'): ExecResult => execElf(HELLO, [], { ...quiet, mode, console: (_fd, d) => (out[mode] += new TextDecoder().decode(d)) });
    const linux = run('linux');
    const dune = run('dune');
    expect(linux.exitCode).toBe(0);
    expect(dune.exitCode).toBe(0);
    expect(out.dune).toBe(out.linux);
    expect(out.linux).toContain('Hello, Dune!');
    expect(linux.stats.vmExits).toEqual({});
    expect((dune.stats.vmExits as Record<string, number>)['Vmcall']).toBe(linux.stats.syscalls);
    // The Dune mode's own figures, under its id: one vCPU, entered once and freed at exit.
    expect(dune.stats['dune']).toEqual({ vcpusCreated: 1, vcpusFreed: 1, leaves: 1 });
    expect(linux.stats['linux']).toBeUndefined();
  });

  it("runs a plugin's mode like the core's: a mode that launches as linux gives linux's figures to the cycle", async () => {
    const { container } = await createContainer({ plugins: false, extra: [withCounting] });
    const system = container.get(System);
    expect(system.modes.map((m) => m.id)).toEqual(['linux', 'dune', 'counting']);
    const counted = system.exec(HELLO, [], { ...quiet, mode: 'counting' });
    const linux = system.exec(HELLO, [], { ...quiet, mode: 'linux' });
    expect(counted.stats['mode']).toBe('counting');
    expect(counted.stats['counting']).toEqual({ launches: 1 });
    expect(figures(counted, 'counting')).toEqual(figures(linux, 'linux'));
  });

  it('refuses a plugin that contributes a mode under an id another has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-modes-'));
    try {
      const manifest = join(dir, 'manifest.json');
      writeFileSync(manifest, JSON.stringify({ plugins: [{ name: 'second-linux', module: join(ROOT, 'test', 'system', 'fixtures', 'second-linux-mode.ts') }] }));
      const { container, plugins } = await createContainer({ manifest });
      expect(plugins[0]!.error).toBe("exec mode 'linux' is contributed twice; --mode could not tell them apart");
      expect(container.get(System).modes.map((m) => m.id)).toEqual(['linux', 'dune']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
