import { PAGE_SIZE } from '../../vtx/arch.js';
import type { Cpu } from '../../vtx/cpu.js';
import type { Machine } from '../../vtx/machine.js';
import * as R from '../../vtx/devices/nic-registers.js';

/** Bytes of an advanced descriptor. */
const DESC = 16;
/** ixgbe's receive buffer: half a page (IXGBE_RXBUFFER_2K), the SRRCTL.BSIZEPKT it programs. */
export const RX_BUFFER_SIZE = 2048;
/** IXGBE_RX_BUFFER_WRITE: buffers the receive clean gives back before it writes RDT. */
export const RX_BUFFER_WRITE = 16;
/** Descriptors a transmit needs free before it starts (one data descriptor here; DESC_NEEDED in spirit). */
export const TX_DESC_NEEDED = 2;
/** TX_WAKE_THRESHOLD (DESC_NEEDED * 2): free descriptors before a stopped queue is woken. */
export const TX_WAKE_THRESHOLD = 2 * TX_DESC_NEEDED;
/** IXGBE_DEFAULT_TX_WORK: descriptors one clean of a transmit ring may reclaim. */
export const TX_WORK_LIMIT = 256;

/**
 * Memory the device reaches: the ring of descriptors (dma_alloc_coherent: physically contiguous)
 * and one buffer per descriptor, from the kernel's page allocator. The driver reaches both
 * through the direct map, with the CPU's loads and stores.
 */
abstract class IxgbeRing {
  /** Physical address of descriptor 0 (what RDBAL/TDBAL get). */
  readonly dma: number;
  /** Its linear address in the direct map. */
  readonly desc: number;
  /** Physical address of each descriptor's buffer. */
  readonly bufferDma: number[] = [];
  nextToUse = 0;
  nextToClean = 0;

  constructor(
    readonly machine: Machine,
    readonly kva: (pa: number) => number,
    readonly index: number,
    readonly count: number,
  ) {
    if (!Number.isInteger(count) || count < 8 || count > 4096 || count % 8 !== 0) {
      throw new RangeError(`ixgbe: a ring has 8 to 4096 descriptors in multiples of 8 (RDLEN/TDLEN are multiples of 128 bytes), got ${count}`);
    }
    const pages = Math.ceil((count * DESC) / PAGE_SIZE);
    this.dma = machine.frames.allocContiguous(pages, 1);
    this.desc = kva(this.dma);
    const perPage = PAGE_SIZE / RX_BUFFER_SIZE;
    let page = 0;
    for (let i = 0; i < count; i++) {
      if (i % perPage === 0) page = machine.frames.alloc();
      this.bufferDma.push(page + (i % perPage) * RX_BUFFER_SIZE);
    }
  }

  /** ixgbe_desc_unused: descriptors software may still post (one stays empty so head ≠ tail means work). */
  unused(): number {
    return (this.nextToClean > this.nextToUse ? 0 : this.count) + this.nextToClean - this.nextToUse - 1;
  }
}

/** What a receive clean found: a whole frame, or a frame the device reported with errors. */
export interface RxFrame {
  frame: Uint8Array;
  /** IPE or TCPE: the device found a bad IPv4 header or L4 checksum. */
  csumError: boolean;
  /** The RSS hash the device wrote back. */
  hash: number;
}

/** A receive queue: descriptors in read format point at buffers; the device writes them back. */
export class IxgbeRxRing extends IxgbeRing {
  /** Fragments of a frame that spans descriptors (ixgbe's rx_ring->skb while EOP has not come). */
  private partial: Uint8Array[] = [];

  /**
   * ixgbe_alloc_rx_buffers: posts `n` descriptors in read format from nextToUse — the packet
   * buffer's address, and a zero header address, which also clears the write-back's DD bit —
   * and gives them to the device with one tail write.
   */
  alloc(cpu: Cpu, n: number, rdt: number): void {
    if (n <= 0) return;
    const mmu = cpu.mmu;
    const llc = this.machine.llc;
    let i = this.nextToUse;
    for (let k = 0; k < n; k++) {
      const va = this.desc + i * DESC;
      const pa = this.bufferDma[i]!;
      llc?.touch(cpu, this.dma + i * DESC, DESC);
      mmu.write64(va, pa >>> 0, Math.floor(pa / 2 ** 32));
      mmu.write64(va + 8, 0, 0);
      i = i + 1 === this.count ? 0 : i + 1;
    }
    this.nextToUse = i;
    // The descriptor at next_to_use is not the device's yet, and may hold an old write-back: its
    // status is cleared, so the clean stops there (ixgbe_alloc_rx_buffers does the same).
    mmu.write32(this.desc + i * DESC + 8, 0);
    mmu.write32(rdt, i); // wmb(); writel(i, rx_ring->tail)
  }

  /**
   * ixgbe_clean_rx_irq: takes written-back descriptors from nextToClean while DD is set, at most
   * `budget` frames, and returns the frames with the number of descriptors used (to refill).
   */
  clean(cpu: Cpu, budget: number, rdt: number, deliver: (f: RxFrame) => void): number {
    const mmu = cpu.mmu;
    const u8 = this.machine.mem.u8;
    const llc = this.machine.llc;
    let frames = 0;
    let cleaned = 0;
    while (frames < budget) {
      const i = this.nextToClean;
      const va = this.desc + i * DESC;
      llc?.touch(cpu, this.dma + i * DESC, DESC);
      const staterr = mmu.read32(va + 8);
      if ((staterr & R.RXD_STAT_DD) === 0) break;
      // dma_rmb(): the rest of the write-back is read after DD.
      const length = mmu.read32(va + 12) & 0xffff;
      const hash = mmu.read32(va + 4);
      const pa = this.bufferDma[i]!;
      // The stack reads the headers and copy_to_user the payload: the whole frame's lines.
      llc?.touch(cpu, pa, Math.max(1, Math.min(length, RX_BUFFER_SIZE)));
      this.partial.push(u8.slice(pa, pa + Math.min(length, RX_BUFFER_SIZE)));
      this.nextToClean = i + 1 === this.count ? 0 : i + 1;
      cleaned++;
      if (cleaned >= RX_BUFFER_WRITE) {
        this.alloc(cpu, cleaned, rdt);
        cleaned = 0;
      }
      if ((staterr & R.RXD_STAT_EOP) === 0) continue; // the frame goes on in the next buffer
      const parts = this.partial;
      this.partial = [];
      let frame = parts[0]!;
      if (parts.length > 1) {
        frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let off = 0;
        for (const p of parts) {
          frame.set(p, off);
          off += p.length;
        }
      }
      frames++;
      deliver({ frame, csumError: (staterr & (R.RXD_ERR_IPE | R.RXD_ERR_TCPE)) !== 0, hash });
    }
    if (cleaned > 0) this.alloc(cpu, cleaned, rdt);
    return frames;
  }
}

/** A transmit queue: the driver writes data descriptors and bumps TDT; the device sets DD. */
export class IxgbeTxRing extends IxgbeRing {
  /** Bytes of each posted descriptor's frame, for the clean's byte count. */
  private readonly lengths: number[];
  /** netif_tx_stop_queue: the ring was too full for the last transmit. */
  stopped = false;

  constructor(machine: Machine, kva: (pa: number) => number, index: number, count: number) {
    super(machine, kva, index, count);
    this.lengths = new Array<number>(count).fill(0);
  }

  /**
   * ixgbe_xmit_frame_ring for a frame in one buffer: copies it into the descriptor's buffer,
   * writes an advanced data descriptor (EOP, RS so the device reports it done, IFCS for the
   * FCS), and tells the device with a tail write. False when the ring is too full (the queue
   * stops; the caller keeps the frame).
   */
  xmit(cpu: Cpu, frame: Uint8Array, tdt: number): boolean {
    if (this.unused() < TX_DESC_NEEDED) {
      this.stopped = true;
      return false;
    }
    const i = this.nextToUse;
    const pa = this.bufferDma[i]!;
    this.machine.mem.writeBytes(pa, frame);
    const va = this.desc + i * DESC;
    const mmu = cpu.mmu;
    // Only the descriptor goes through the cache proxy: Linux's ixgbe maps the skb's data, which
    // was just built from a warm per-CPU page fragment, where this driver copies into a buffer of
    // the ring's own (cycling through 512 buffers would miss where Linux does not).
    this.machine.llc?.touch(cpu, this.dma + i * DESC, DESC);
    mmu.write64(va, pa >>> 0, Math.floor(pa / 2 ** 32));
    mmu.write32(va + 8, (frame.length | R.TXD_DTYP_DATA | R.TXD_CMD_DEXT | R.TXD_CMD_IFCS | R.TXD_CMD_EOP | R.TXD_CMD_RS) >>> 0);
    mmu.write32(va + 12, frame.length << 14); // PAYLEN
    this.lengths[i] = frame.length;
    this.nextToUse = i + 1 === this.count ? 0 : i + 1;
    mmu.write32(tdt, this.nextToUse); // wmb(); writel(i, tx_ring->tail)
    return true;
  }

  /**
   * ixgbe_clean_tx_irq: reclaims descriptors the device has marked done, up to the work limit.
   * Returns [packets, bytes, whether every done descriptor was reclaimed].
   */
  clean(cpu: Cpu, limit = TX_WORK_LIMIT): { packets: number; bytes: number; complete: boolean } {
    const mmu = cpu.mmu;
    let packets = 0;
    let bytes = 0;
    while (this.nextToClean !== this.nextToUse) {
      if (packets >= limit) return { packets, bytes, complete: false };
      const i = this.nextToClean;
      this.machine.llc?.touch(cpu, this.dma + i * DESC, DESC);
      if ((mmu.read32(this.desc + i * DESC + 12) & R.TXD_STAT_DD) === 0) break;
      packets++;
      bytes += this.lengths[i]!;
      this.nextToClean = i + 1 === this.count ? 0 : i + 1;
    }
    return { packets, bytes, complete: true };
  }
}
