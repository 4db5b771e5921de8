import * as posix from 'node:path/posix';
import type { Kernel } from '../../core/linux/kernel.js';
import type { Process } from '../../core/linux/task.js';
import type { Walk } from '../../core/linux/path-walk.js';
import { guestPathOf, walkAt, walkFromGuest } from '../../core/linux/vfs.js';

/** A path as the file rules judge it. */
export interface ResolvedPath {
  /**
   * The name as written, made absolute from where it starts (the cwd's or the directory
   * descriptor's object, where it is now) with '.' and '..' applied to the text.
   */
  readonly lexical: string;
  /** What the name reaches: the object (or where it would be created), every symlink followed. */
  readonly resolved?: string;
  /** Where the walk stopped when it could not reach the end (a missing or non-directory component). */
  readonly stoppedAt?: string;
  /** Places the walk stood in that the text does not show: left by '..', or a symlink's target. */
  readonly passed: readonly string[];
}

/**
 * Turns a path argument into what it names, with the kernel's own lookup (path-walk.ts): the
 * same walk, from the same objects, that the call will make — so the rules judge the object the
 * call reaches, whatever symlinks, '..', renames or descriptors lie on the way. The C sandbox
 * would do this with a readlink per component from the descriptor (openat + O_PATH, as
 * Landlock-less sandboxes do); here the runtime asks the kernel model's walk, which is the same
 * walk without the system-call round trips.
 */
export class PathResolver {
  constructor(
    private readonly kernel: Kernel,
    private readonly process: Process,
  ) {}

  /** The absolute path before symlinks; errno (negative) when `dirfd` cannot be a base directory. */
  lexical(dirfd: number, name: string): string | number {
    return guestPathOf(this.kernel, this.process, dirfd | 0, name);
  }

  /**
   * Whether the path opens a driver's device (/dev/dune): the kernel matches those by this
   * lexical path, and they belong to the runtime (a second /dev/dune descriptor would be the
   * program's own way into the Dune module).
   */
  isDriverDevice(lexical: string): boolean {
    return this.kernel.devices.has(lexical);
  }

  /** errno (negative) when `dirfd` cannot be a base directory: the kernel will refuse the call too. */
  resolve(dirfd: number, name: string, follow: boolean): ResolvedPath | number {
    const lexical = this.lexical(dirfd, name);
    if (typeof lexical === 'number') return lexical;
    return ofWalk(lexical, walkAt(this.kernel, this.process, dirfd | 0, name, follow));
  }

  /**
   * What the target text of a symlink created at `linkpath` (from `dirfd`) would name when
   * followed: walked from the directory the link is made in, as the kernel will walk it.
   */
  resolveTarget(dirfd: number, linkpath: string, target: string): ResolvedPath | number {
    const link = walkAt(this.kernel, this.process, dirfd | 0, linkpath.replace(/\/+$/, '') || '/', false);
    if (typeof link === 'number') return link;
    if (!link.ok) return ofWalk(link.at, link); // the kernel refuses it: judged where it stopped
    const dir = posix.dirname(link.guest);
    return ofWalk(posix.resolve(dir, target), walkFromGuest(this.kernel, dir, target, true));
  }
}

function ofWalk(lexical: string, w: Walk | number): ResolvedPath | number {
  if (typeof w === 'number') return w;
  return w.ok ? { lexical, resolved: w.guest, passed: w.passed } : { lexical, stoppedAt: w.at, passed: w.passed };
}
