import type { Machine } from '../machine.js';
import type { BusMasterDma } from './bus-master-dma.js';
import type { PcieLatency } from './pcie-latency.js';

/** What the receive and transmit halves of a NIC port share: the register file, DMA, time and interrupts. */
export interface NicContext {
  readonly machine: Machine;
  /** BAR0's registers as dwords (index = offset / 4). */
  readonly regs: Uint32Array;
  readonly dma: BusMasterDma;
  /** The I/O path's latencies (cycles). */
  readonly latency: PcieLatency;
  /** The device's present on the machine clock (cycles). */
  now(): number;
  /** Runs `action` as the device at machine clock `at` (a device event firing). */
  asOf(at: number, action: () => void): void;
  /** Raises the interrupt cause of RX (tx = 0) or TX (tx = 1) queue `q` (its IVAR vector). */
  queueCause(q: number, tx: 0 | 1): void;
}

/** Bytes of an advanced descriptor. */
export const DESCRIPTOR_BYTES = 16;
