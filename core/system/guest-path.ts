import { isAbsolute, relative, resolve } from 'node:path';
import { ROOT } from '../framework/plugin-manifest.js';
import type { Kernel } from '../linux/kernel.js';
import type { Process } from '../linux/task.js';
import { readElfBinary } from '../linux/elf/read-elf-binary.js';

/**
 * The name a program gets in its guest (argv[0], AT_EXECFN, its image's VMA): a path inside the
 * dunesim package is shown relative to the package's root, as a user typing it from there would.
 * The strings land on the initial stack, so their length moves everything below them: with the
 * host's absolute path, a run's cycles would depend on where the checkout lies. A path outside
 * the package is kept as given (native execution does the same with what the user typed).
 */
export function guestPath(hostPath: string): string {
  const rel = relative(ROOT, resolve(hostPath));
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? hostPath : rel;
}

/** Starts a static ELF at `hostPath` as a process of `kernel`, named as `guestPath` says. */
export function spawnProgram(kernel: Kernel, hostPath: string, args: readonly string[], envp: readonly string[] = [], argv0?: string): Process {
  const name = guestPath(hostPath);
  return kernel.spawnElf(name, readElfBinary(hostPath), [argv0 ?? name, ...args], [...envp], name);
}
