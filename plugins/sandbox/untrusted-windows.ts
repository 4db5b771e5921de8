import { STACK_TOP } from '../../core/linux/linux-abi.js';
import type { DuneLayout } from '../../core/dune/dune-layout.js';

/** The end of the window for the untrusted ELF image (APP_MAX_ELF_VADDR): the runtime starts here. */
export const APP_MAX_ELF_VADDR = 0x7000_0000;

export interface Window {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/** Why a range is not the program's. */
export type RangeFault = 'wraps' | 'outside';

/**
 * The address ranges the untrusted program owns (the Dune sandbox's mem_ref_is_safe): its ELF
 * window [0, APP_MAX_ELF_VADDR) — image and brk heap — and the window of its mappings and stack,
 * from the bottom of the Dune mmap window up to the stack top (8 GiB, as the sandbox's
 * APP_MMAP_LEN). Everything else — the runtime at APP_MAX_ELF_VADDR, libDune's text and page
 * pool, the kernel half — is the runtime's, and no argument may point there.
 *
 * Arguments arrive as signed 64-bit numbers: a negative pointer is a kernel-half address and a
 * negative length is one of 2^63 or more, so both fail; `ptr + len` is exact below 2^53 and
 * beyond any window above it, so no check can be fooled by rounding.
 */
export class UntrustedWindows {
  readonly list: readonly Window[];

  constructor(layout: DuneLayout) {
    this.list = [
      { start: 0, end: APP_MAX_ELF_VADDR, name: 'ELF window' },
      { start: layout.baseMap, end: STACK_TOP, name: 'mmap and stack window' },
    ];
  }

  /** Whether [ptr, ptr + len) lies inside one window (len 0: nothing is accessed, always fine). */
  contains(ptr: number, len: number): boolean {
    return this.fault(ptr, len) === undefined;
  }

  /** undefined when [ptr, ptr + len) is inside a window, else why not. */
  fault(ptr: number, len: number): RangeFault | undefined {
    if (len === 0) return undefined;
    if (len < 0) return 'wraps'; // 2^63 or more: ptr + len wraps around
    if (ptr < 0) return 'outside';
    const end = ptr + len;
    for (const w of this.list) if (ptr >= w.start && end <= w.end) return undefined;
    return 'outside';
  }

  /** The window holding `va`, if any. */
  windowOf(va: number): Window | undefined {
    return this.list.find((w) => va >= w.start && va < w.end);
  }
}
