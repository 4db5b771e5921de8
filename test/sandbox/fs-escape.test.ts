/**
 * Class 4 of the sandbox hardening (plugins/sandbox/security/files-and-objects.md): names are judged, objects
 * are not. The fs-* attack programs (test/sandbox/attacks) try every way to reach a file the
 * rules forbid — a renamed directory under an open descriptor, planted symlinks, '..' after a
 * symlink, hard links, *at() calls from descriptors, fchdir, renames across rules, writes
 * through a symlinked parent — under a policy that allows /data read-only and /data/scratch
 * read-write, in a root that also holds /secret; and under the null policy, where only the
 * host's own files are out of bounds. Both ways: the Dune sandbox and the ptrace supervisor.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { NR } from '../../core/linux/linux-abi.js';
import { Asm, HELLO, ROOT, patched } from './hostile.js';
import { RunOptions, captured, policy, sandboxed } from './run.js';

const ATTACKS = join(ROOT, 'test', 'sandbox', 'attacks', 'bin');
const PROGRAMS = ['fs-dirfd-swap', 'fs-symlink-plant', 'fs-dotdot', 'fs-hardlink', 'fs-openat-dirfd', 'fs-rename-rules', 'fs-parent-link'];
const SECRET_CONTENT = 'S3CR3T-content';

const POLICY = policy({
  name: 'data read-only, scratch read-write',
  files: [
    { path: '/data', access: 'read-only' },
    { path: '/data/scratch', access: 'read-write' },
  ],
});

/** The root of fs-attack.h: /data (with planted links), /data/scratch, /secret, the guest's /etc. */
function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'dunesim-fs-attack-'));
  mkdirSync(join(root, 'data', 'sub', 'deep'), { recursive: true });
  mkdirSync(join(root, 'data', 'scratch'));
  mkdirSync(join(root, 'secret', 'inner'), { recursive: true });
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'data', 'notes'), 'notes\n');
  writeFileSync(join(root, 'secret', 'S3CR3T-name'), 'S3CR3T-content\n');
  writeFileSync(join(root, 'etc', 'passwd'), 'guest passwd\n');
  symlinkSync('/secret', join(root, 'data', 'scratch', 'trap'));
  symlinkSync('/etc', join(root, 'data', 'scratch', 'hosttrap'));
  symlinkSync('../secret/inner', join(root, 'data', 'escape'));
  return root;
}

interface Outcome {
  stdout: string;
  messages: string;
  exitCode: number;
  secretAfter: string[];
  /** /data/notes and /data/sub/deep as they were (the read-only part untouched). */
  dataIntact: boolean;
}

function run(way: 'sandbox' | 'ptrace', program: string, strict: boolean): Outcome {
  const root = makeRoot();
  try {
    const opts: RunOptions = { root, args: strict ? [] : ['null'], argv0: program, ...(strict ? { policy: POLICY } : {}) };
    const path = join(ATTACKS, program);
    const r = way === 'sandbox' ? sandboxed(path, opts) : captured(execPtraced, path, opts);
    const exitCode = 'exitCode' in r ? r.exitCode : r.result.exitCode;
    const secretAfter = existsSync(join(root, 'secret')) ? readdirSync(join(root, 'secret')).sort() : [];
    const notes = join(root, 'data', 'notes');
    const dataIntact = existsSync(notes) && readFileSync(notes, 'utf8') === 'notes\n' && existsSync(join(root, 'data', 'sub', 'deep'));
    return { stdout: r.stdout, messages: r.messages, exitCode, secretAfter, dataIntact };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** What the host's own /etc looks like from inside: its passwd, or names a listing of it shows. */
function hostLeak(out: string): string | undefined {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0]!;
  if (passwd !== '' && out.includes(passwd)) return passwd;
  return [' hostname ', ' os-release ', ' fstab '].find((n) => out.includes(n));
}

describe.runIf(existsSync(join(ATTACKS, PROGRAMS[0]!)) && existsSync(HELLO))('sandbox files: every way to an object is judged (class 4)', () => {
  for (const way of ['sandbox', 'ptrace'] as const) {
    for (const program of PROGRAMS) {
      it(`${way}: ${program} under /data read-only + /data/scratch read-write: nothing escapes, the secret never shows`, () => {
        const o = run(way, program, true);
        expect(o.exitCode).toBe(0);
        expect(o.stdout).toMatch(/^held /m);
        expect(o.stdout.split('\n').filter((l) => l.startsWith('ESCAPED'))).toEqual([]);
        expect(o.stdout).not.toContain(SECRET_CONTENT);
        expect(o.messages).not.toContain(SECRET_CONTENT);
        expect(hostLeak(o.stdout)).toBeUndefined();
        expect(o.secretAfter).toEqual(['S3CR3T-name', 'inner']); // nothing made, moved or linked there
        expect(o.dataIntact).toBe(true);
      });
    }
  }

  for (const way of ['sandbox', 'ptrace'] as const) {
    it(`${way}, null policy: the root holds — no attack reaches the host's files`, () => {
      for (const program of PROGRAMS) {
        const o = run(way, program, false);
        expect(o.exitCode, program).toBe(0);
        expect(o.stdout.split('\n').filter((l) => l.startsWith('ESCAPED')), program).toEqual([]);
        expect(hostLeak(o.stdout), program).toBeUndefined();
      }
    });
  }

  it('the reports name what was refused: the renamed directory listed, a symlink target, a walk through /secret', () => {
    const o = run('sandbox', 'fs-dirfd-swap', true);
    // getdents64 on the descriptor of /data/scratch/d after d moved to "away": that (empty) directory.
    expect(o.stdout).toContain('setup symlink to /secret: open 4, O_PATH 5, chdir 0, rename 0, plant 0\n');
    expect(o.stdout).toContain('held symlink to /secret: getdents64 on the old descriptor (48)\n');
    const p = run('sandbox', 'fs-symlink-plant', true);
    expect(p.messages).toContain('sandbox: denied symlink("/secret", "/data/scratch/l1"): files: symlink target /secret: no files rule covers /secret → -EACCES\n');
    const d = run('sandbox', 'fs-dotdot', true);
    expect(d.messages).toContain('files: /data/notes passes through /secret/inner; no files rule covers /secret/inner → -EACCES\n');
    expect(d.messages).toContain('files: /data/S3CR3T-name leads to /secret/S3CR3T-name through a symlink; no files rule covers /secret/S3CR3T-name → -EACCES\n');
  });

  it('a rename that would carry a files rule to another place is -EXDEV, both ways', () => {
    const pol = policy({ files: [{ path: '/data', access: 'rw' }, { path: '/data/box/kept', access: 'ro' }] });
    const prog = patched(new Asm().sys(NR.rename, { str: 'a' }, { str: 'b' }).exitWithErrno().string('a', '/data/box').string('b', '/data/moved'));
    const setup = (root: string): void => {
      mkdirSync(join(root, 'data', 'box', 'kept'), { recursive: true });
    };
    for (const way of ['sandbox', 'ptrace'] as const) {
      const root = mkdtempSync(join(tmpdir(), 'dunesim-fs-exdev-'));
      try {
        setup(root);
        const opts: RunOptions = { root, policy: pol };
        const r = way === 'sandbox' ? sandboxed(prog, opts) : captured(execPtraced, prog, opts);
        expect('exitCode' in r ? r.exitCode : r.result.exitCode, way).toBe(18); // EXDEV
        expect(r.messages, way).toContain('files: /data/box holds files[1] (/data/box/kept, read-only); renaming it would move that rule\'s files → -EXDEV');
        expect(existsSync(join(root, 'data', 'box', 'kept')), way).toBe(true);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  });
});
