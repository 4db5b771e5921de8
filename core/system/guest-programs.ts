import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The committed static musl builds of examples/guest (examples/guest/Makefile). */
export const GUEST_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'guest', 'bin');

/** The CPU-bound guest programs (examples/guest), with their arguments: the bench suites' workloads. */
export const CPU_BOUND_PROGRAMS: ReadonlyArray<readonly [string, readonly string[]]> = [['sieve', []], ['crc32', []], ['matmul', []], ['qsort', []]];
