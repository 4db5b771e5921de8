import { PAGE_SIZE } from './arch.js';
import { ConfigError } from '../config-error.js';
import type { MmioBus } from './devices/bus.js';
import { RAM_POOL } from './ram-pool.js';

/** The largest ArrayBuffer Node 20 (V8 11) can allocate. */
export const MAX_PHYSICAL_MEMORY = 2 ** 32;

/**
 * Host-physical RAM: one ArrayBuffer of the configured size, addressed by physical address.
 *
 * Backing is lazy at 4 KiB granularity: V8 allocates a large zeroed ArrayBuffer with
 * calloc → mmap, so the host kernel commits each 4 KiB page only when the guest first touches
 * it. A 4 GiB machine therefore costs only what it uses, and the TLB can cache a plain byte
 * offset (host physical address == offset in this buffer), which keeps the hit path to one
 * typed-array access.
 *
 * 64-bit values are read as two 32-bit halves: `read64` returns the low half and leaves the
 * high half in `hi` (no BigInt, no allocation).
 */
export class PhysicalMemory {
  readonly size: number;
  readonly frames: number;
  // Not readonly only for `release`, which points them at nothing.
  buffer: ArrayBuffer;
  u8: Uint8Array;
  u16: Uint16Array;
  u32: Uint32Array;
  i32: Int32Array;
  dv: DataView;
  /** High half of the last `read64`. */
  hi = 0;
  /**
   * Called after host-side bulk writes (`writeBytes`, `zero`: loaders, the frame allocator, kernel
   * copies to user memory) so a cache of decoded instructions can drop what they overwrote.
   * Guest stores go through the MMU, which reports writes to code frames itself.
   */
  hostWriteHook: ((pa: number, len: number) => void) | undefined;
  /**
   * Devices at physical addresses outside RAM (a NIC's registers, a local APIC). Only the slow
   * path of an access outside RAM looks here: RAM accesses never do.
   */
  mmio: MmioBus | undefined;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new ConfigError(`memory size must be a positive whole number of bytes, got ${size}`);
    }
    if (size % PAGE_SIZE !== 0) {
      throw new ConfigError(`memory size ${size} is not a multiple of 4 KiB (4096 bytes)`);
    }
    if (size > MAX_PHYSICAL_MEMORY) {
      throw new ConfigError(
        `memory size ${size} exceeds ${MAX_PHYSICAL_MEMORY} bytes (4 GiB), the largest ArrayBuffer Node 20 allows`,
      );
    }
    this.size = size;
    this.frames = size / PAGE_SIZE;
    // A buffer a finished machine of the same size gave back, zeroed again (ram-pool.ts).
    this.buffer = RAM_POOL.take(size) ?? new ArrayBuffer(size);
    this.u8 = new Uint8Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /**
   * The machine is done: its buffer goes back to the pool for the next machine of the same size
   * (ram-pool.ts), of which only bytes [0, dirty) may be non-zero. The views are pointed at an
   * empty buffer, so a leftover reference reads nothing instead of the next machine's memory.
   */
  release(dirty: number): void {
    const b = this.buffer;
    if (b.byteLength === 0) return;
    const none = new ArrayBuffer(0);
    this.buffer = none;
    this.u8 = new Uint8Array(none);
    this.u16 = new Uint16Array(none);
    this.u32 = new Uint32Array(none);
    this.i32 = new Int32Array(none);
    this.dv = new DataView(none);
    RAM_POOL.give(b, dirty);
  }

  /**
   * Whether [pa, pa+len) is RAM. Accesses outside RAM are "unclaimed" bus cycles: reads return
   * all ones and writes are dropped, as on a PC chipset (master abort).
   */
  contains(pa: number, len: number): boolean {
    return pa >= 0 && pa + len <= this.size;
  }

  read8(pa: number): number {
    if (pa >= 0 && pa < this.size) return this.u8[pa]!;
    return this.mmio !== undefined ? this.mmio.read(pa, 1) : 0xff;
  }

  read16(pa: number): number {
    if (!this.contains(pa, 2)) return this.mmio !== undefined ? this.mmio.read(pa, 2) : 0xffff;
    return (pa & 1) === 0 ? this.u16[pa >>> 1]! : this.dv.getUint16(pa, true);
  }

  read32(pa: number): number {
    if ((pa & 3) === 0 && pa >= 0 && pa < this.size) return this.u32[pa >>> 2]!;
    if (!this.contains(pa, 4)) return this.mmio !== undefined ? this.mmio.read(pa, 4) : 0xffff_ffff;
    return this.dv.getUint32(pa, true);
  }

  /** Returns the low 32 bits; the high 32 bits are left in `this.hi`. */
  read64(pa: number): number {
    if (!this.contains(pa, 8)) {
      if (this.mmio !== undefined) {
        const lo = this.mmio.read(pa, 4); // low half first, as a 32-bit bus splits it
        this.hi = this.mmio.read(pa + 4, 4);
        return lo;
      }
      this.hi = 0xffff_ffff;
      return 0xffff_ffff;
    }
    if ((pa & 3) === 0) {
      const i = pa >>> 2;
      this.hi = this.u32[i + 1]!;
      return this.u32[i]!;
    }
    this.hi = this.dv.getUint32(pa + 4, true);
    return this.dv.getUint32(pa, true);
  }

  write8(pa: number, v: number): void {
    if (pa >= 0 && pa < this.size) this.u8[pa] = v;
    else this.mmio?.write(pa, 1, v & 0xff);
  }

  write16(pa: number, v: number): void {
    if (!this.contains(pa, 2)) return this.mmio?.write(pa, 2, v & 0xffff);
    if ((pa & 1) === 0) this.u16[pa >>> 1] = v;
    else this.dv.setUint16(pa, v, true);
  }

  write32(pa: number, v: number): void {
    if (!this.contains(pa, 4)) return this.mmio?.write(pa, 4, v);
    if ((pa & 3) === 0) this.u32[pa >>> 2] = v;
    else this.dv.setUint32(pa, v, true);
  }

  write64(pa: number, lo: number, hi: number): void {
    if (!this.contains(pa, 8)) {
      this.mmio?.write(pa, 4, lo);
      this.mmio?.write(pa + 4, 4, hi);
      return;
    }
    if ((pa & 3) === 0) {
      const i = pa >>> 2;
      this.u32[i] = lo;
      this.u32[i + 1] = hi;
    } else {
      this.dv.setUint32(pa, lo, true);
      this.dv.setUint32(pa + 4, hi, true);
    }
  }

  /** A 64-bit value that fits in 53 bits (a physical address, a counter) as a number. */
  read64AsNumber(pa: number): number {
    const lo = this.read64(pa);
    return this.hi * 0x1_0000_0000 + lo;
  }

  write64Number(pa: number, v: number): void {
    this.write64(pa, v >>> 0, Math.floor(v / 0x1_0000_0000) >>> 0);
  }

  zero(pa: number, len: number): void {
    this.u8.fill(0, pa, pa + len);
    this.hostWriteHook?.(pa, len);
  }

  readBytes(pa: number, len: number): Uint8Array {
    return this.u8.slice(pa, pa + len);
  }

  writeBytes(pa: number, bytes: Uint8Array): void {
    this.u8.set(bytes, pa);
    this.hostWriteHook?.(pa, bytes.length);
  }
}
