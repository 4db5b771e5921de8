import { describe, expect, it, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execElf } from '../../core/system/index.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import type { SyscallContribution } from '../../core/framework/syscall-contribution.js';
import { ArgWidth } from '../../core/linux/syscall-prototypes.js';
import { SyscallTable } from '../../core/linux/syscall-table.js';
import { NR } from '../../core/linux/linux-abi.js';

/** SyscallContribution: a plugin adds a system call of its own to the Linux model. */
const PROGRAM = join(ROOT, 'test', 'dune', 'programs', 'bin', 'private-call');
const canRunNative = process.platform === 'linux' && process.arch === 'x64';

const multiply: SyscallContribution = {
  nr: 1000, name: 'dunesim_multiply', args: [ArgWidth.Int, ArgWidth.Int],
  handler: (_ctx, a, b) => a * b,
};

function run(syscalls: SyscallContribution[]): string {
  let out = '';
  execElf(PROGRAM, [], {
    mode: 'linux', profile: 'dune-e3-1230v2', memory: 32 << 20, envp: [], syscalls,
    console: (fd, d) => (out += fd === 1 ? new TextDecoder().decode(d) : ''),
  });
  return out;
}

const scratch = mkdtempSync(join(tmpdir(), 'dunesim-syscall-'));
const pluginDir = join(ROOT, 'plugins', `multiply.guide-test-${process.pid}`);
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(pluginDir, { recursive: true, force: true });
});

describe('SyscallContribution: plugins add system calls', () => {
  it('the call answers as its handler says, its arguments read at their declared widths; other numbers stay ENOSYS', () => {
    const without = 'Function not implemented';
    expect(run([])).toBe(`1000(6, 7) = -1 errno ${without}\n1001() = -1 errno ${without}\n`);
    if (canRunNative) expect(spawnSync(PROGRAM, { encoding: 'utf8' }).stdout).toBe(run([]));
    expect(run([multiply])).toBe(`1000(6, 7) = 42\n1001() = -1 errno ${without}\n`);
  });

  it('refuses a number Linux has, a number out of range and more than six arguments', () => {
    const t = new SyscallTable();
    expect(() => t.addPrivate(NR.getpid, 'mine', [], () => 0)).toThrow(/number 39 is Linux's getpid/);
    expect(() => t.addPrivate(5000, 'far', [], () => 0)).toThrow(/outside 0\.\.4095/);
    expect(() => t.addPrivate(1002, 'wide', Array(7).fill(ArgWidth.Long), () => 0)).toThrow(/at most 6 registers/);
  });

  it('a plugin binds one in its ContainerModule and `dunesim exec` has it', () => {
    mkdirSync(pluginDir, { recursive: true });
    writeFileSync(join(pluginDir, 'index.ts'), `
import { ContainerModule } from 'inversify';
import { SyscallContribution } from '../../core/framework/syscall-contribution.js';
import { ArgWidth } from '../../core/linux/syscall-prototypes.js';

const multiply: SyscallContribution = {
  nr: 1000, name: 'dunesim_multiply', args: [ArgWidth.Int, ArgWidth.Int],
  handler: (_ctx, a, b) => a * b,
};

export default new ContainerModule(({ bind }) => {
  bind<SyscallContribution>(SyscallContribution).toConstantValue(multiply);
});
`);
    const manifest = join(scratch, 'manifest.json');
    writeFileSync(manifest, JSON.stringify({ plugins: [{ name: 'multiply', description: 'a system call', module: join(pluginDir, 'index.ts') }] }));
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'exec', '--strace', '--', PROGRAM], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DUNESIM_MANIFEST: manifest },
    });
    expect(r.stdout).toBe('1000(6, 7) = 42\n1001() = -1 errno Function not implemented\n');
    expect(r.stderr).toContain('[strace] 1 dunesim_multiply(6, 7) = 42');
  });
});
