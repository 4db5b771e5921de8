import type { Nic82599 } from './nic-82599.js';
import * as R from './nic-registers.js';

/**
 * What a control plane writes to take queue pair `q` from an owner whose memory is going: RX and
 * TX disabled, then the rings' bases and lengths cleared, so the port can neither place a frame
 * in nor fetch a descriptor from the old rings (frames steered to the queue are then dropped).
 */
export function switchOffQueuePair(nic: Nic82599, q: number): void {
  for (const reg of [R.rxdctl(q), R.txdctl(q), R.rdbal(q), R.rdbah(q), R.rdlen(q), R.tdbal(q), R.tdbah(q), R.tdlen(q)]) nic.write(reg, 4, 0);
}
