import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { createContainer } from '../../core/framework/create-container.js';
import { RunCommand } from '../../core/cli/run-command.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { readElfBinary } from '../../core/linux/elf/read-elf-binary.js';
import { ElfError } from '../../core/linux/elf/elf-file.js';
import { checkOutputDir, checkOutputFile } from '../../core/framework/output-path.js';

const HELLO = join(ROOT, 'examples', 'guest', 'bin', 'hello');

/** `node bin/dunesim.js ARGS`, as a user runs it (about a second each: tsx compiles on start). */
function dunesim(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Bad input ends in exactly one line on stderr that starts with `dunesim: `: no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dunesim: /);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dunesim-bad-input-'));
  writeFileSync(join(dir, 'text'), 'not a program\n');
  writeFileSync(join(dir, 'file'), '');
  mkdirSync(join(dir, 'subdir'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readElfBinary refuses what execve refuses, without reading it', () => {
  it('a directory, a FIFO (nobody writing: a read would wait for ever) and a text file are ElfErrors', () => {
    expect(() => readElfBinary(join(dir, 'subdir'))).toThrow(/is a directory/);
    expect(() => readElfBinary(join(dir, 'fifo'))).toThrow(/not a regular file \(a FIFO\)/);
    expect(() => readElfBinary(join(dir, 'text'))).toThrow(ElfError);
    expect(() => readElfBinary('/dev/null')).toThrow(/a character device/);
    expect(readElfBinary(HELLO).entry).toBeGreaterThan(0);
  });
});

describe('output destinations are checked before any work, creating nothing', () => {
  it('a directory as --json, a file as --report, a path under a file, a read-only directory', () => {
    expect(() => checkOutputFile(dir, '--json')).toThrow(/is a directory/);
    expect(() => checkOutputDir(join(dir, 'file'), '--report')).toThrow(/exists and is not a directory/);
    expect(() => checkOutputFile(join(dir, 'file', 'x.json'), '--json')).toThrow(/is not a directory/);
    expect(() => checkOutputFile(join(dir, 'new', 'deeper', 'x.json'), '--json')).not.toThrow();
    expect(() => checkOutputDir(join(dir, 'new', 'report'), '--report')).not.toThrow();
    expect(() => checkOutputDir(join(dir, 'subdir'), '--report')).not.toThrow();
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      expect(() => checkOutputFile(join(ro, 'x.json'), '--json')).toThrow(/not writable/);
      chmodSync(ro, 0o755);
    }
  });
});

describe('inputs named on the command line that are not regular files', () => {
  it('a policy or a manifest that is a FIFO or a directory is refused without reading it, in one line', async () => {
    const { PolicyLoader } = await import('../../plugins/sandbox/policy-loader.js');
    const { readManifest } = await import('../../core/framework/plugin-manifest.js');
    const loader = new PolicyLoader();
    expect(() => loader.load(join(dir, 'fifo'))).toThrow(/cannot be read: is not a regular file/);
    expect(() => loader.load(join(dir, 'subdir'))).toThrow(/cannot be read: is a directory/);
    expect(() => readManifest(join(dir, 'fifo'))).toThrow(/is not a regular file/);
    // JSON.parse quotes the text it choked on, newline included: the message stays one line.
    let msg = '';
    try {
      readManifest(join(dir, 'text'));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^cannot read the plugin manifest .*text: .*not valid JSON$/);
  });

  it('run: an option the application does not take is a usage error, not ignored', async () => {
    const { container } = await createContainer();
    const run = container.get(RunCommand);
    const { Command } = await import('commander');
    const program = new Command('dunesim').exitOverride();
    run.register(program);
    await expect(program.parseAsync(['node', 'dunesim', 'run', 'sandbox/httpd', '--root', '/nonexistent'])).rejects.toThrow(
      "sandbox/httpd has no option --root; it takes --port, --docroot, --requests, --policy, --way",
    );
  });
});

describe('run sandbox/compare --elf refuses a directory or a text file with a usage error', () => {
  it('before any of its three runs', async () => {
    const { container } = await createContainer();
    const app = container.get(RunCommand).find('sandbox/compare');
    const out = { write: () => true } as unknown as NodeJS.WritableStream;
    const ctx = (elf: string) => ({ options: { elf }, profile: 'dune-e3-1230v2', out });
    await expect(async () => app.run(ctx(join(dir, 'subdir')))).rejects.toThrow(UsageError);
    await expect(async () => app.run(ctx(join(dir, 'subdir')))).rejects.toThrow(/--elf .*subdir: is a directory/);
    await expect(async () => app.run(ctx(join(dir, 'text')))).rejects.toThrow(/--elf .*text: not an ELF file/);
    await expect(async () => app.run(ctx(join(dir, 'fifo')))).rejects.toThrow(/a FIFO/);
  });
});

describe('the CLI: every bad input is one line and a non-zero status', () => {
  it('exec of a directory and of a FIFO: 126, as a shell reports a file execve refuses', () => {
    let r = dunesim(['exec', '--', join(dir, 'subdir')]);
    expect(r.status).toBe(126);
    expect(oneLine(r.stderr)).toContain('is a directory');
    r = dunesim(['exec', '--', join(dir, 'fifo')]);
    expect(r.status).toBe(126);
    expect(oneLine(r.stderr)).toContain('FIFO');
  });

  it('exec --root: a missing directory or a file is a usage error (2); --stats onto a directory too', () => {
    let r = dunesim(['exec', '--root', '/nonexistent', '--', HELLO]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe('dunesim: --root /nonexistent: no such directory');
    expect(r.stdout).toBe('');
    r = dunesim(['exec', '--root', join(dir, 'file'), '--', HELLO]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toContain('not a directory');
    r = dunesim(['exec', '--stats', dir, '--', HELLO]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toContain('--stats');
    expect(r.stdout).toBe(''); // refused before the guest ran
  });

  it('exec --net: only host or sim, refused before the guest runs', () => {
    const r = dunesim(['exec', '--net', 'wifi', '--', HELLO]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe("dunesim: --net must be host or sim, got 'wifi'");
    expect(r.stdout).toBe('');
    const ok = dunesim(['exec', '--net', 'sim', '--', HELLO]);
    expect(ok.status).toBe(0);
  });

  it('exec --env: NAME=VALUE only; the guest sees a fixed environment and the --env given, never the host\'s', () => {
    const bad = dunesim(['exec', '--env', 'NOEQUALS', '--', HELLO]);
    expect(bad.status).toBe(2);
    expect(oneLine(bad.stderr)).toBe("dunesim: --env takes NAME=VALUE with a non-empty NAME, got 'NOEQUALS'");
    const args = join(ROOT, 'examples', 'guest', 'bin', 'args');
    // The host's environment holds DUNESIM_TEST here; the guest must not see it unless given.
    const host = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'exec', '--', args], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DUNESIM_TEST: 'from-the-host' },
    });
    expect(host.stdout).toContain('DUNESIM_TEST=(unset)');
    const given = dunesim(['exec', '--env', 'DUNESIM_TEST=given', '--', args]);
    expect(given.status).toBe(0);
    expect(given.stdout).toContain('DUNESIM_TEST=given');
  });

  it('bench --report onto a file and --json onto a directory: refused before the first suite runs', () => {
    let r = dunesim(['bench', 'vtx', '--report', join(dir, 'file')]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toContain(`--report ${join(dir, 'file')}: exists and is not a directory`);
    expect(r.stdout).toBe('');
    r = dunesim(['run', 'tlb-reach/sweep', '--json', dir]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toContain('is a directory');
    expect(r.stdout).toBe('');
  });
});
