import type { MmioDevice } from './bus.js';
import { MSIX_ENTRIES, MSIX_PBA_OFFSET } from './nic-registers.js';

/** Where MSI messages are addressed (Intel SDM Vol. 3A §10.11.1): 0xFEE in bits 31:20. */
const MSI_ADDRESS_BASE = 0xfee0_0000;

/** The processors an MSI message reaches: a local APIC by its ID. */
export interface MsiTarget {
  /** Requests `vector` at the local APIC whose ID is `apicId`; false if there is none. */
  deliverMsi(apicId: number, vector: number): boolean;
}

/**
 * A PCI MSI-X table and pending-bit array (PCI Local Bus Specification 3.0, §6.8.2), as the
 * 82599 places them in BAR3: 16 bytes per vector — message address (low, high), message data,
 * vector control (bit 0: masked) — and one pending bit per vector at 0x2000.
 *
 * The message is an x86 MSI (SDM Vol. 3A §10.11): the address holds the destination APIC ID in
 * bits 19:12, the data the vector in bits 7:0 (fixed delivery, edge). A masked vector's message
 * waits as a pending bit and is sent when software unmasks it, as the specification requires.
 */
export class MsixTable implements MmioDevice {
  readonly name: string;
  private readonly entries = new Uint32Array(MSIX_ENTRIES * 4);
  private readonly pending = new Uint8Array(MSIX_ENTRIES);
  /** Messages sent, and messages whose address named no local APIC (lost, as on a bus error). */
  sent = 0;
  lost = 0;

  constructor(
    owner: string,
    private readonly target: MsiTarget,
  ) {
    this.name = `${owner} MSI-X`;
    this.reset();
  }

  reset(): void {
    this.entries.fill(0);
    for (let v = 0; v < MSIX_ENTRIES; v++) this.entries[v * 4 + 3] = 1; // masked after reset
    this.pending.fill(0);
  }

  /** The device signals vector `v`: sends its message, or leaves it pending while masked. */
  signal(v: number): void {
    if ((this.entries[v * 4 + 3]! & 1) !== 0) {
      this.pending[v] = 1;
      return;
    }
    this.send(v);
  }

  private send(v: number): void {
    const lo = this.entries[v * 4]!;
    const hi = this.entries[v * 4 + 1]!;
    const data = this.entries[v * 4 + 2]!;
    const vector = data & 0xff;
    // Vectors 0–15 are illegal for the APIC (SDM §10.5.2): the message is not accepted.
    if (hi !== 0 || ((lo & 0xfff0_0000) >>> 0) !== MSI_ADDRESS_BASE || vector < 16 || !this.target.deliverMsi((lo >>> 12) & 0xff, vector)) {
      this.lost++;
      return;
    }
    this.sent++;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    let v: number;
    if (offset >= MSIX_PBA_OFFSET) {
      const word = (offset - MSIX_PBA_OFFSET) >>> 2; // 32 pending bits per dword
      v = 0;
      for (let b = 0; b < 32; b++) {
        const e = word * 32 + b;
        if (e < MSIX_ENTRIES && this.pending[e] === 1) v |= 1 << b;
      }
    } else {
      const i = offset >>> 2;
      v = i < this.entries.length ? this.entries[i]! : 0;
    }
    const shift = (offset & 3) * 8;
    return size === 4 ? v >>> 0 : (v >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= MSIX_PBA_OFFSET || size !== 4) return; // the PBA is read-only; the table takes dwords
    const i = offset >>> 2;
    if (i >= this.entries.length) return;
    this.entries[i] = value;
    const v = i >>> 2;
    if ((i & 3) === 3 && (value & 1) === 0 && this.pending[v] === 1) {
      this.pending[v] = 0;
      this.send(v);
    }
  }
}
