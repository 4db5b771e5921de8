import { PAGE_SIZE, PTE_P, PTE_U, PTE_W } from '../../core/vtx/arch.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import type { LibDune } from '../../core/dune/libdune.js';
import { UntrustedWindows } from './untrusted-windows.js';

const TWO_32 = 0x1_0000_0000;

/**
 * The runtime's access to the program's memory, from guest ring 0: what the C runtime does with
 * plain loads and stores through the guest page table, but only after a walk has shown that every
 * page is mapped for ring 3 (P and U, and W for a store). The walk is what keeps the runtime from
 * taking a page fault of its own in the middle of a system call, and from being talked into
 * reading or writing its own memory on the program's behalf.
 */
export class GuestMemory {
  constructor(
    private readonly lib: LibDune,
    readonly windows: UntrustedWindows,
  ) {}

  /** Whether [va, va + len) is the program's and mapped for ring 3 (writable too, for `write`). */
  accessible(va: number, len: number, write: boolean): boolean {
    if (!this.windows.contains(va, len)) return false;
    const need = PTE_P | PTE_U | (write ? PTE_W : 0);
    for (let page = va - (va % PAGE_SIZE); page < va + len; page += PAGE_SIZE) {
      const e = this.lib.vmLookup(this.lib.pgroot, page, false);
      if (e < 0 || (this.lib.readEntry(e) & need) !== need) return false;
    }
    return true;
  }

  /** `len` bytes, or undefined when they are not all readable by ring 3. */
  read(cpu: Cpu, va: number, len: number): Uint8Array | undefined {
    if (!this.accessible(va, len, false)) return undefined;
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = cpu.mmu.read8(va + i);
    return out;
  }

  read64(cpu: Cpu, va: number): number | undefined {
    if (!this.accessible(va, 8, false)) return undefined;
    return cpu.mmu.read64Number(va);
  }

  /** Writes `data`; false (and nothing written) when it is not all writable by ring 3. */
  write(cpu: Cpu, va: number, data: Uint8Array): boolean {
    if (!this.accessible(va, data.length, true)) return false;
    for (let i = 0; i < data.length; i++) cpu.mmu.write8(va + i, data[i]!);
    return true;
  }

  write64(cpu: Cpu, va: number, v: number): boolean {
    if (!this.accessible(va, 8, true)) return false;
    cpu.mmu.write64(va, v >>> 0, Math.floor(v / TWO_32) >>> 0);
    return true;
  }

  /**
   * A NUL-terminated string of at most `max` bytes before the NUL (check_string): 'fault' when a
   * byte before the NUL is not the program's, 'too-long' without a NUL in `max + 1` bytes.
   */
  readString(cpu: Cpu, va: number, max: number): string | 'fault' | 'too-long' {
    const b = this.readStringBytes(cpu, va, max);
    return typeof b === 'string' ? b : new TextDecoder().decode(b);
  }

  /** readString's bytes (without the NUL), each read once: what the checks judge and the kernel gets. */
  readStringBytes(cpu: Cpu, va: number, max: number): Uint8Array | 'fault' | 'too-long' {
    const bytes: number[] = [];
    let page = -1;
    for (let a = va; ; a++) {
      const p = a - (a % PAGE_SIZE);
      if (p !== page) {
        if (!this.accessible(a, 1, false)) return 'fault';
        page = p;
      }
      const b = cpu.mmu.read8(a);
      if (b === 0) break;
      if (bytes.length === max) return 'too-long';
      bytes.push(b);
    }
    return Uint8Array.from(bytes);
  }
}
