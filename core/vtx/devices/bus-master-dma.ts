import type { PhysicalMemory } from '../physical-memory.js';
import type { LastLevelCache } from '../last-level-cache.js';

/**
 * A device's DMA as a PCIe bus master sees RAM: reads and writes at physical addresses, at no
 * cost to any CPU. Only RAM answers. Anything else — an address past RAM, another device's
 * registers, the device's own — is a master abort: reads return all ones, writes are lost, and
 * `aborts` counts them, so a driver's bad ring or buffer address cannot make a device touch
 * registers. Writes tell the decoded-instruction cache what they overwrote.
 */
export class BusMasterDma {
  aborts = 0;

  /** `llc`: the machine's last-level cache proxy, which inbound writes allocate into (DDIO) or invalidate. */
  constructor(private readonly mem: PhysicalMemory, private readonly llc?: LastLevelCache) {}

  private inRam(pa: number, len: number): boolean {
    return pa >= 0 && pa + len <= this.mem.size;
  }

  /** A naturally aligned 32-bit read (a descriptor field). */
  read32(pa: number): number {
    if ((pa & 3) === 0 && this.inRam(pa, 4)) return this.mem.u32[pa >>> 2]!;
    this.aborts++;
    return 0xffff_ffff;
  }

  write32(pa: number, v: number): void {
    if ((pa & 3) === 0 && this.inRam(pa, 4)) {
      this.mem.u32[pa >>> 2] = v;
      this.mem.hostWriteHook?.(pa, 4);
      this.llc?.dmaWrite(pa, 4);
    } else this.aborts++;
  }

  /** Reads `len` bytes at `pa` into `dst` from `at` (all ones on an abort). */
  read(pa: number, len: number, dst: Uint8Array, at: number): void {
    if (this.inRam(pa, len)) dst.set(this.mem.u8.subarray(pa, pa + len), at);
    else {
      this.aborts++;
      dst.fill(0xff, at, at + len);
    }
  }

  /** Writes `bytes` at `pa`. */
  write(pa: number, bytes: Uint8Array): void {
    if (this.inRam(pa, bytes.length)) {
      this.mem.writeBytes(pa, bytes);
      this.llc?.dmaWrite(pa, bytes.length);
    } else this.aborts++;
  }
}
