import { UntrustedWindows } from './untrusted-windows.js';

export interface Region {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/** The bottom of the kernel half of a 48-bit address space. */
const KERNEL_HALF = 2 ** 47;

/**
 * Names for the memory that is not the program's, so that a report says what a pointer or a
 * fault tried to reach ("libDune's page pool") rather than only where.
 */
export class RuntimeRegions {
  constructor(
    private readonly windows: UntrustedWindows,
    private readonly regions: readonly Region[],
  ) {}

  describe(va: number): string {
    if (va < 0 || va >= KERNEL_HALF) return 'the kernel half';
    const w = this.windows.windowOf(va);
    if (w !== undefined) return `the program's ${w.name}`;
    const r = this.regions.find((x) => va >= x.start && va < x.end);
    return r !== undefined ? r.name : 'memory outside the untrusted windows';
  }
}
