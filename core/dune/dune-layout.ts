import { LARGE_PAGE_SIZE } from '../vtx/arch.js';

const GIB = 2 ** 30;
const lgAlign = (x: number): number => Math.ceil(x / GIB) * GIB;

/**
 * The guest-physical layout that makes a 47-bit process address space fit the EPT's guest-physical
 * width (Dune §3.4): only three windows of host-virtual space are reachable — the start of the
 * process (code, data, heap, and libDune's page pool), the mmap region, and the stack — each
 * packed into guest-physical space one after another. The paper gives 4 GB windows in the first
 * 12 GB; the first public commit used 16 GiB (GPA_SIZE = 1 << 34). The window size is a parameter.
 * A host-virtual address outside the windows has no guest-physical address: touching it ends the
 * Dune process with DUNE_RET_EPT_VIOLATION.
 *
 * GPA [0, W)     ↔ HVA [0, W)                                (identity: code, heap, page pool)
 * GPA [W, 2W)    ↔ HVA [baseMap, baseMap + W)                 (mmap region)
 * GPA [2W, 3W)   ↔ HVA [baseStack, baseStack + W)             (stack)
 * with baseStack = LG_ALIGN(stack top) − W and baseMap = baseStack − W, as dune_va_to_pa checks
 * the stack window first, then the mmap window, then identity.
 */
export class DuneLayout {
  readonly baseMap: number;
  readonly baseStack: number;
  /** End of the reachable guest-physical space (3W). */
  readonly physLimit: number;

  constructor(
    readonly window: number,
    stackTop: number,
    /** The host's guest-physical width (MAXPHYADDR). */
    physBits: number,
  ) {
    if (window % LARGE_PAGE_SIZE !== 0) throw new Error('Dune window must be 2 MiB aligned');
    this.baseStack = lgAlign(stackTop) - window;
    this.baseMap = this.baseStack - window;
    this.physLimit = 3 * window;
    if (this.physLimit > 2 ** physBits) {
      throw new Error(`Dune layout needs ${this.physLimit} bytes of guest-physical space; MAXPHYADDR ${physBits} gives ${2 ** physBits}`);
    }
  }

  /** dune_va_to_pa: host-virtual → guest-physical, or -1 outside the windows. */
  hvaToGpa(hva: number): number {
    const W = this.window;
    if (hva >= this.baseStack && hva < this.baseStack + W) return 2 * W + (hva - this.baseStack);
    if (hva >= this.baseMap && hva < this.baseMap + W) return W + (hva - this.baseMap);
    if (hva >= 0 && hva < W) return hva;
    return -1;
  }

  /** gpa_to_hva (kern/ept.c): guest-physical → host-virtual, or -1 beyond the windows. */
  gpaToHva(gpa: number): number {
    const W = this.window;
    if (gpa < 0 || gpa >= 3 * W) return -1;
    if (gpa < W) return gpa;
    if (gpa < 2 * W) return this.baseMap + (gpa - W);
    return this.baseStack + (gpa - 2 * W);
  }
}
