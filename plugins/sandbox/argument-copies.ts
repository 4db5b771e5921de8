import type { Cpu } from '../../core/vtx/cpu.js';
import { COPY_COSTS } from './sandbox-cost-constants.js';

/**
 * The runtime's copies of argument buffers (the first thread's; each thread the program makes
 * has an area of the same size of its own, sandbox-thread.ts): a region right above its stack, mapped like the rest
 * of the runtime without PTE_U — ring 3 can neither read nor write it, and it is outside the
 * untrusted windows, so no argument may point there either. SANDBOX_LAYOUT in sandbox-launcher.ts
 * maps it; the kernel reads the copies through the process's address space like any user memory.
 */
export const ARG_COPIES_VA = 0x7014_0000;
export const ARG_COPIES_SIZE = 0x2_0000;


/**
 * One argument buffer, copied out of the program's memory once, by the checks: the bytes the
 * checks read and judged are exactly the bytes the kernel gets (gVisor's discipline: copy in,
 * check the copy, use the copy). A sibling thread that rewrites the program's buffer after the
 * check changes nothing the kernel sees.
 */
export interface ArgCopy {
  /** The argument that is made to point at the copy. */
  readonly arg: number;
  readonly bytes: Uint8Array;
  /** The program's buffer, when the kernel writes the copy too: copied back after the call. */
  readonly back?: number;
}

/** The copies of one call, laid out in the region 16-byte aligned, in the order they were made. */
export class ArgCopies {
  readonly list: ArgCopy[] = [];
  private used = 0;

  /** Whether argument `arg` already has its copy (the length of an out-lenp buffer makes it early). */
  has(arg: number): boolean {
    return this.list.some((c) => c.arg === arg);
  }

  /** Adds a copy, charged as the memcpy that makes it; false when the region has no room left. */
  add(cpu: Cpu, arg: number, bytes: Uint8Array, back?: number): boolean {
    const size = Math.ceil(bytes.length / 16) * 16;
    if (this.used + size > ARG_COPIES_SIZE) return false;
    this.used += size;
    this.list.push(back !== undefined ? { arg, bytes, back } : { arg, bytes });
    cpu.charge((COPY_COSTS.perCopy + Math.ceil(bytes.length / 8) * COPY_COSTS.perWord) * cpu.costs.instruction);
    return true;
  }
}

/** Where each copy goes in a thread's copy area at `base` (the layout `add` made room for). */
export function copyAddresses(list: readonly ArgCopy[], base: number): number[] {
  const out: number[] = [];
  let at = base;
  for (const c of list) {
    out.push(at);
    at += Math.ceil(c.bytes.length / 16) * 16;
  }
  return out;
}
