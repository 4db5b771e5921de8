import { EACCES } from '../../core/linux/linux-abi.js';
import type { Kernel } from '../../core/linux/kernel.js';
import type { Process } from '../../core/linux/task.js';
import { guestPathOf, resolveGuest } from '../../core/linux/vfs.js';

/** A path as the file rules judge it. */
export interface ResolvedPath {
  /** Absolute, with '.' and '..' applied to the text (so '..' stops at '/', as the kernel does). */
  readonly lexical: string;
  /** After following symlinks (undefined when the path does not resolve, e.g. a missing directory). */
  readonly resolved?: string;
  /** A symlink leads out of the guest's root. */
  readonly escapes: boolean;
}

/**
 * Turns a path argument into what it names: relative paths start at the cwd or at the *at()
 * call's directory descriptor, '..' is applied lexically, and symlinks are followed. The C
 * sandbox would do this with getcwd and a readlink per component (realpath); here the runtime
 * asks the kernel model's lookup, which is the same walk without the system-call round trips.
 */
export class PathResolver {
  constructor(
    private readonly kernel: Kernel,
    private readonly process: Process,
  ) {}

  /** The absolute path before symlinks; errno (negative) when `dirfd` cannot be a base directory. */
  lexical(dirfd: number, name: string): string | number {
    return guestPathOf(this.process, dirfd | 0, name);
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
    const r = resolveGuest(this.kernel, lexical, follow, name.endsWith('/'));
    if (typeof r === 'number') return { lexical, escapes: r === -EACCES };
    return { lexical, resolved: r.guest, escapes: false };
  }
}
