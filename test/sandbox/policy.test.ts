/**
 * Policies (plugins/sandbox/POLICY.md): the loader refuses a broken file with a message naming
 * the field, normalises file-rule paths; the rules and the untrusted windows as units; the CLI
 * (`dunesim exec --mode sandbox --policy FILE`) exits with status 2 on a broken policy and
 * reports a denial on stderr.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EPERM, ENOSYS, NR, STACK_TOP } from '../../core/linux/linux-abi.js';
import { DuneLayout } from '../../core/dune/dune-layout.js';
import { PolicyLoader } from '../../plugins/sandbox/policy-loader.js';
import { PolicyError } from '../../plugins/sandbox/policy-error.js';
import { FileRules } from '../../plugins/sandbox/file-rules.js';
import { UntrustedWindows } from '../../plugins/sandbox/untrusted-windows.js';
import { ConfigError } from '../../core/config-error.js';
import { Asm, HELLO, ROOT, patched } from './hostile.js';

const loader = new PolicyLoader();
const parse = (json: unknown): ReturnType<PolicyLoader['parse']> => loader.parse(json, 'p.json');

describe('sandbox policy files', () => {
  it('null and {} are the null policy; a full policy parses with names turned into numbers and paths normalised', () => {
    expect(parse(null)).toMatchObject({ name: 'null', unknownErrno: ENOSYS, limits: {} });
    expect(parse(null).files).toBeUndefined();
    expect(parse({})).toMatchObject({ name: 'unnamed', unknownErrno: ENOSYS, limits: {} });
    const p = parse({
      name: 'demo', unknownSyscalls: 'EPERM',
      syscalls: { allow: ['read', 'write', 'exit_group'], deny: ['fork', 'getpid'] },
      files: [{ path: '/data/../data/x/', access: 'rw' }, { path: '/', access: 'read-only' }],
      limits: { memory: 1 << 20, instructions: 1e6, cycles: 1e7, openFiles: 0 },
    });
    expect(p.name).toBe('demo');
    expect(p.unknownErrno).toBe(EPERM);
    expect([...p.allow!]).toEqual([NR.read, NR.write, NR.exit_group]);
    expect([...p.deny]).toEqual([NR.fork, NR.getpid]);
    expect(p.files).toEqual([{ path: '/data/x', access: 'read-write', index: 0 }, { path: '/', access: 'read-only', index: 1 }]);
    expect(p.limits).toEqual({ memory: 1 << 20, instructions: 1e6, cycles: 1e7, openFiles: 0 });
  });

  const broken: Array<[string, unknown, string]> = [
    ['a list', [], "policy p.json: must be a JSON object (or null for the null policy), got []"],
    ['a misspelt field', { fiels: [] }, 'policy p.json: fiels: unknown field; a policy has name, unknownSyscalls, syscalls, cloneFlags, files, network, limits'],
    ['a bad unknownSyscalls', { unknownSyscalls: 'EACCES' }, 'policy p.json: unknownSyscalls: must be "ENOSYS" or "EPERM", got "EACCES"'],
    ['an allow entry the sandbox cannot validate', { syscalls: { allow: ['read', 'fork'] } }, "policy p.json: syscalls.allow[1]: 'fork' is not a system call the sandbox can validate"],
    ['an unknown deny entry', { syscalls: { deny: ['frobnicate'] } }, "policy p.json: syscalls.deny[0]: unknown system call 'frobnicate'"],
    ['a relative rule path', { files: [{ path: '/d', access: 'rw' }, { path: 'data', access: 'ro' }] }, 'policy p.json: files[1].path: must be an absolute guest path, got "data"'],
    ['a bad access', { files: [{ path: '/d', access: 'write' }] }, 'policy p.json: files[0].access: must be "read-only", "read-write" or "none" (or "ro", "rw"), got "write"'],
    ['a string for a limit', { limits: { memory: 'lots' } }, 'policy p.json: limits.memory: must be a positive whole number of bytes, got "lots"'],
    ['a negative limit', { limits: { openFiles: -1 } }, 'policy p.json: limits.openFiles: must be a whole number of descriptors (0 or more), got -1'],
    ['an unknown clone flag', { cloneFlags: ['CLONE_VM', 'CLONE_WHATEVER'] }, 'policy p.json: cloneFlags[1]: unknown clone flag "CLONE_WHATEVER"'],
    ['a clone flag no thread may use', { cloneFlags: ['CLONE_VM', 'CLONE_SIGHAND', 'CLONE_THREAD', 'CLONE_NEWUSER'] },
      "policy p.json: cloneFlags[3]: CLONE_NEWUSER cannot be allowed: the sandbox makes threads of the program's own group only (CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID|CLONE_DETACHED|CLONE_CHILD_SETTID)"],
    ['clone flags that make no thread', { cloneFlags: ['CLONE_VM', 'CLONE_SETTLS'] },
      'policy p.json: cloneFlags: must include CLONE_VM|CLONE_SIGHAND|CLONE_THREAD, without which clone makes no thread (use syscalls.deny for no threads at all)'],
    ['an unknown limit', { limits: { cpu: 5 } }, 'policy p.json: limits.cpu: unknown limit; limits are memory, instructions, cycles, openFiles'],
  ];
  for (const [what, json, message] of broken) {
    it(`refuses ${what}, naming the field`, () => {
      let err: unknown;
      try {
        parse(json);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PolicyError);
      expect(err).toBeInstanceOf(ConfigError); // the CLI's exit status 2
      expect((err as Error).message.startsWith(message)).toBe(true);
    });
  }

  it('the policies shipped in plugins/sandbox/policies load', () => {
    expect(loader.load(join(ROOT, 'plugins', 'sandbox', 'policies', 'null.json'))).toMatchObject({ name: 'null', limits: {} });
    expect(loader.load(join(ROOT, 'plugins', 'sandbox', 'policies', 'example.json'))).toMatchObject({ name: 'example', unknownErrno: EPERM, limits: { openFiles: 64 } });
    // musl's pthread_create flags, no CLONE_CHILD_SETTID.
    expect(loader.load(join(ROOT, 'plugins', 'sandbox', 'policies', 'threads.json'))).toMatchObject({ name: 'threads', cloneFlags: 0x7d0f00 });
  });

  it('refuses a file that is not JSON or cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-policy-'));
    try {
      writeFileSync(join(dir, 'bad.json'), '{ "limits": ');
      expect(() => loader.load(join(dir, 'bad.json'))).toThrow(/^policy .*bad\.json: is not JSON: /);
      expect(() => loader.load(join(dir, 'missing.json'))).toThrow(/^policy .*missing\.json: cannot be read: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('file rules', () => {
  const rules = new FileRules(parse({ files: [{ path: '/data', access: 'rw' }, { path: '/data/ro', access: 'ro' }, { path: '/data/secret', access: 'none' }] }).files!);

  it('the longest covering prefix decides, by whole components', () => {
    expect(rules.judge('/data/x', 'write')).toMatchObject({ ok: true });
    expect(rules.judge('/data', 'read')).toMatchObject({ ok: true });
    expect(rules.judge('/data/ro/x', 'read')).toMatchObject({ ok: true });
    expect(rules.judge('/data/ro/x', 'write')).toEqual({ ok: false, why: 'files[1] (/data/ro, read-only) does not allow writing /data/ro/x' });
    expect(rules.judge('/data/secret/k', 'read')).toEqual({ ok: false, why: 'files[2] (/data/secret, none) forbids /data/secret/k' });
    expect(rules.judge('/database', 'read')).toEqual({ ok: false, why: 'no files rule covers /database' });
    expect(new FileRules(parse({ files: [{ path: '/', access: 'ro' }] }).files!).judge('/etc/passwd', 'read')).toMatchObject({ ok: true });
  });
});

describe('untrusted windows', () => {
  const w = new UntrustedWindows(new DuneLayout(4 * 2 ** 30, STACK_TOP, 36));

  it('are the ELF window below the runtime and the 8 GiB below the stack top', () => {
    expect(w.list.map((x) => [x.start, x.end])).toEqual([[0, 0x7000_0000], [0x7ffe_0000_0000, STACK_TOP]]);
  });

  it('take a pointer and a length that stay inside one window; wrapping or leaving is a fault', () => {
    expect(w.fault(0x40_0000, 4096)).toBeUndefined();
    expect(w.fault(0xc000_0000, 0)).toBeUndefined(); // nothing accessed
    expect(w.fault(0x6fff_f000, 0x1000)).toBeUndefined();
    expect(w.fault(0x6fff_f000, 0x1001)).toBe('outside');
    expect(w.fault(0x7000_0000, 1)).toBe('outside');
    expect(w.fault(0x40_0000, -16)).toBe('wraps'); // 2^64 - 16 as size_t
    expect(w.fault(-0x7800_0000_0000, 8)).toBe('outside'); // the kernel half
    expect(w.fault(STACK_TOP - 8, 8)).toBeUndefined();
    expect(w.fault(STACK_TOP - 8, 9)).toBe('outside');
    expect(w.fault(0x7ffe_0000_0000 - 1, 2)).toBe('outside'); // straddles the bottom of the mmap window
  });
});

describe.runIf(existsSync(HELLO))('dunesim exec --mode sandbox', () => {
  const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), ...args], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('runs a program with the null policy, refuses a broken policy (2) and --policy without the mode (2), reports a denial on stderr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-cli-sandbox-'));
    try {
      let r = cli(['exec', '--mode', 'sandbox', HELLO]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Hello, Dune!');
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ files: [{ path: '/data', access: 'sometimes' }] }));
      r = cli(['exec', '--mode', 'sandbox', '--policy', join(dir, 'bad.json'), HELLO]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('files[0].access: must be "read-only", "read-write" or "none"');
      r = cli(['exec', '--policy', join(dir, 'bad.json'), HELLO]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--policy needs --mode sandbox');
      writeFileSync(join(dir, 'files.json'), JSON.stringify({ name: 'data', files: [{ path: '/data', access: 'rw' }] }));
      mkdirSync(join(dir, 'data'));
      const prog = patched(new Asm().sys(NR.open, { str: 'p' }, 0, 0).exitWithErrno().string('p', '../../etc/passwd'));
      r = cli(['exec', '--mode', 'sandbox', '--policy', join(dir, 'files.json'), '--root', dir, prog]);
      expect(r.status).toBe(13);
      expect(r.stderr).toContain('sandbox: denied open("../../etc/passwd", 0, 0): files: ../../etc/passwd is /etc/passwd; no files rule covers /etc/passwd → -EACCES\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
