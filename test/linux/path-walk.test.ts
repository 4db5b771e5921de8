/**
 * walkPath (core/linux/path-walk.ts): Linux's path lookup in a host directory that is the guest's
 * "/", as under chroot(2) — what it reaches, where it stops, and the places it passes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, expect } from 'vitest';
import { ELOOP, ENOENT, ENOTDIR } from '../../core/linux/linux-abi.js';
import { MAXSYMLINKS, walkPath } from '../../core/linux/path-walk.js';
import { tempDir } from './fs-helpers.js';

function tree(): string {
  const root = fs.realpathSync(tempDir('walk'));
  fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  fs.mkdirSync(path.join(root, 'c'));
  fs.writeFileSync(path.join(root, 'a', 'f'), '');
  fs.symlinkSync('/a/b', path.join(root, 'c', 'abs')); // absolute: from the guest's "/"
  fs.symlinkSync('../a', path.join(root, 'c', 'rel'));
  fs.symlinkSync('/../../../..', path.join(root, 'c', 'up')); // climbs to "/" and stays
  fs.symlinkSync('f/', path.join(root, 'a', 'fslash')); // a file named with a slash
  fs.symlinkSync('self', path.join(root, 'self'));
  return root;
}

describe('walkPath: lookup in the guest tree, as chroot', () => {
  it('follows links inside the root: an absolute target from the guest\'s "/", ".." stops there', () => {
    const root = tree();
    expect(walkPath(root, '/', '/c/abs', true)).toMatchObject({ ok: true, guest: '/a/b', host: path.join(root, 'a', 'b'), exists: true });
    expect(walkPath(root, '/', '/c/up', true)).toMatchObject({ ok: true, guest: '/', host: root });
    expect(walkPath(root, '/c', 'rel/f', true)).toMatchObject({ ok: true, guest: '/a/f' });
    // Not following the last component: the link itself.
    expect(walkPath(root, '/', '/c/abs', false)).toMatchObject({ ok: true, guest: '/c/abs' });
    // ...unless a slash follows it.
    expect(walkPath(root, '/', '/c/abs/', false)).toMatchObject({ ok: true, guest: '/a/b' });
  });

  it('".." after a link is the parent of its target, and the walk records the places the text does not show', () => {
    const root = tree();
    const w = walkPath(root, '/', '/c/abs/../f', true);
    expect(w).toMatchObject({ ok: true, guest: '/a/f' });
    expect(w.passed).toEqual(['/a/b', '/a/b']); // the link's target, then left by ".."
  });

  it('a missing last component resolves (to be created), a missing middle one stops the walk where it is', () => {
    const root = tree();
    expect(walkPath(root, '/', '/c/abs/new', true)).toMatchObject({ ok: true, guest: '/a/b/new', exists: false });
    expect(walkPath(root, '/', '/c/abs/no/new', true)).toMatchObject({ ok: false, errno: -ENOENT, at: '/a/b/no' });
  });

  it('ENOTDIR for a file in the middle or before a slash (its own or a link target\'s), ELOOP past MAXSYMLINKS', () => {
    const root = tree();
    expect(walkPath(root, '/', '/a/f/x', true)).toMatchObject({ ok: false, errno: -ENOTDIR, at: '/a/f' });
    expect(walkPath(root, '/', '/a/f/', true)).toMatchObject({ ok: false, errno: -ENOTDIR });
    expect(walkPath(root, '/', '/a/fslash', true)).toMatchObject({ ok: false, errno: -ENOTDIR });
    expect(walkPath(root, '/', '/self', true)).toMatchObject({ ok: false, errno: -ELOOP, at: '/self' });
    expect(MAXSYMLINKS).toBe(40);
  });
});
