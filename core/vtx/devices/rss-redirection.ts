import { ToeplitzHash } from './toeplitz-hash.js';

/** Entries of the 82599's redirection table (RETA): 128, indexed by the hash's 7 low bits. */
export const RETA_ENTRIES = 128;

/**
 * Receive-side scaling as the 82599 applies it (datasheet §7.1.2.8): the Toeplitz hash of a
 * packet's 4-tuple selects, through its 7 least significant bits, one of 128 redirection-table
 * entries, and the entry names the receive queue. Spreading flows over cores is the table's
 * job: by default entry i holds queue i mod N, and software (IX's control plane) rewrites entries
 * to move groups of flows between cores.
 */
export class RssRedirection {
  readonly table = new Uint8Array(RETA_ENTRIES);

  constructor(
    readonly hash: ToeplitzHash,
    readonly queues: number,
  ) {
    if (!Number.isInteger(queues) || queues < 1 || queues > 16) throw new RangeError(`RSS spreads over 1 to 16 queues, got ${queues}`);
    for (let i = 0; i < RETA_ENTRIES; i++) this.table[i] = i % queues;
  }

  /** Points redirection entry `index` (a flow group) at `queue`. */
  assign(index: number, queue: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= RETA_ENTRIES) throw new RangeError(`RETA index ${index} outside 0..${RETA_ENTRIES - 1}`);
    if (!Number.isInteger(queue) || queue < 0 || queue >= this.queues) throw new RangeError(`queue ${queue} outside 0..${this.queues - 1}`);
    this.table[index] = queue;
  }

  /** The flow group (RETA index) of a TCP/IPv4 4-tuple. */
  group(src: number, dst: number, srcPort: number, dstPort: number): number {
    return this.hash.ipv4Tcp(src, dst, srcPort, dstPort) & (RETA_ENTRIES - 1);
  }

  /** The receive queue of a TCP/IPv4 4-tuple. */
  queueOf(src: number, dst: number, srcPort: number, dstPort: number): number {
    return this.table[this.group(src, dst, srcPort, dstPort)]!;
  }
}
