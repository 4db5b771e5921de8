import * as fs from 'node:fs';
import { EACCES, EIO, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR } from './linux-abi.js';

/**
 * Where a path walk ended. `guest` is the canonical guest path of what the name reaches — every
 * symlink followed, every `..` applied to the directory the walk stood in — and `host` the host
 * path behind it, whose components the walk has all seen (none is a symlink, but the last one
 * when it is not followed). `exists` is false for a missing last component, which the caller
 * may create (O_CREAT, mkdir, symlink …).
 */
export interface WalkEnd {
  readonly ok: true;
  readonly guest: string;
  readonly host: string;
  readonly exists: boolean;
  /** lstat of the last component when it exists. */
  readonly stat: fs.Stats | undefined;
  /** A slash followed the last component (of the name, or of the last link's target): a directory is wanted. */
  readonly trailingSlash: boolean;
  /** Places the walk stood in on the way (below): what a policy must also allow. */
  readonly passed: readonly string[];
}

/** A walk that stopped: the errno, and the guest path of the component where it stopped. */
export interface WalkStop {
  readonly ok: false;
  readonly errno: number;
  readonly at: string;
  readonly passed: readonly string[];
}

export type Walk = WalkEnd | WalkStop;

/** Symlinks one lookup may follow (include/linux/namei.h MAXSYMLINKS). */
export const MAXSYMLINKS = 40;

/**
 * Marks, among the components still to walk, where a symlink's target ends: the walk stands on
 * the link's target there. A NUL cannot be in a name, so it never collides with one.
 */
const LINK_END = '\0';

/** The guest path of a stack of components. */
function guestOf(stack: readonly string[]): string {
  return '/' + stack.join('/');
}

function hostOf(root: string, stack: readonly string[]): string {
  return stack.length === 0 ? root : (root === '/' ? '' : root) + '/' + stack.join('/');
}

/** Whether only trailing slashes (and link ends) remain: the component just taken is the last. */
function onlySlashes(rest: readonly string[]): boolean {
  for (const c of rest) if (c !== '' && c !== LINK_END) return false;
  return true;
}

function lstat(p: string): fs.Stats | number {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    return errnoOf(e);
  }
}

/** The errno of a host lstat or readlink that failed (vfs.ts's hostErrno, for the few a lookup meets). */
function errnoOf(e: unknown): number {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT': return -ENOENT;
    case 'ENOTDIR': return -ENOTDIR;
    case 'ELOOP': return -ELOOP;
    case 'EACCES': return -EACCES;
    case 'ENAMETOOLONG': return -ENAMETOOLONG;
    default: return -EIO;
  }
}

/**
 * Path lookup (fs/namei.c's link_path_walk and walk_component) in a guest whose "/" is the host
 * directory `root`, as under chroot(2): one component at a time, each looked up with lstat in the
 * directory the walk stands in. A symlink is followed by walking its target text in its place —
 * an absolute target from the guest's "/", a relative one from the link's directory — so no
 * target can name anything outside `root`, whatever it says. `..` takes the walk to the parent
 * of the directory it stands in, which after a symlink is the target's parent (physical, as
 * Linux), and at "/" stays there (a chroot's root is its own parent). Every component but the
 * last must be a directory (ENOTDIR) that exists (ENOENT); the last is followed when `follow` is
 * set or the name ends with a slash; at most MAXSYMLINKS links are followed (ELOOP).
 *
 * `passed` lists the places the walk stood in that the name as written does not show: each
 * directory it left with `..`, and the place each symlink's target led to. A policy that judges
 * the final object and the written name must judge these too, or a name could probe (or, for
 * `..`, climb out of) places it may not see.
 *
 * `base` is the canonical guest path relative names start from (the cwd or a directory
 * descriptor's object: its current place, not the name it was opened by).
 */
export function walkPath(root: string, base: string, name: string, follow: boolean): Walk {
  const passed: string[] = [];
  const stack = name.startsWith('/') ? [] : base.split('/').filter((c) => c !== '');
  const rest = name.split('/').reverse(); // pop() gives the next component
  let wantDir = false; // a slash followed the component the walk last stepped onto
  let links = 0;
  let stat: fs.Stats | undefined;
  let known = false; // whether `stat` is that of the place the walk stands in
  while (rest.length > 0) {
    const c = rest.pop()!;
    if (c === LINK_END) {
      passed.push(guestOf(stack));
      continue;
    }
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length > 0) {
        passed.push(guestOf(stack));
        stack.pop();
        known = false;
      }
      continue;
    }
    const last = onlySlashes(rest);
    const slash = last && rest.includes('');
    const hostPath = hostOf(root, stack.concat(c));
    const s = lstat(hostPath);
    if (typeof s === 'number') {
      if (s === -ENOENT && last) {
        stack.push(c);
        return { ok: true, guest: guestOf(stack), host: hostPath, exists: false, stat: undefined, trailingSlash: slash, passed };
      }
      return { ok: false, errno: s, at: guestOf([...stack, c]), passed };
    }
    // A trailing slash follows the last component too (LOOKUP_FOLLOW | LOOKUP_DIRECTORY).
    if (s.isSymbolicLink() && (!last || follow || slash)) {
      if (++links > MAXSYMLINKS) return { ok: false, errno: -ELOOP, at: guestOf([...stack, c]), passed };
      let target: string;
      try {
        target = fs.readlinkSync(hostPath);
      } catch (e) {
        return { ok: false, errno: errnoOf(e), at: guestOf([...stack, c]), passed };
      }
      if (target === '') return { ok: false, errno: -ENOENT, at: guestOf([...stack, c]), passed };
      rest.push(LINK_END);
      const parts = target.split('/');
      for (let i = parts.length - 1; i >= 0; i--) rest.push(parts[i]!);
      if (target.startsWith('/')) stack.length = 0;
      known = false;
      continue;
    }
    if (!last && !s.isDirectory()) return { ok: false, errno: -ENOTDIR, at: guestOf([...stack, c]), passed };
    stack.push(c);
    stat = s;
    known = true;
    wantDir = slash;
  }
  const host = hostOf(root, stack);
  if (!known) {
    // The walk ended on "/", on `..` or `.`, or on a link's target: a directory it stood in.
    const s = lstat(host);
    if (typeof s === 'number') return { ok: false, errno: s, at: guestOf(stack), passed };
    stat = s;
  }
  if (wantDir && !stat!.isDirectory()) return { ok: false, errno: -ENOTDIR, at: guestOf(stack), passed };
  return { ok: true, guest: guestOf(stack), host, exists: true, stat, trailingSlash: wantDir, passed };
}
