import type { CostModel } from '../cost-model.js';

/**
 * The latencies of a NIC's path to the host, in cycles of the machine's clock. They delay what
 * the device does and when its writes become visible; no CPU is charged for them.
 */
export interface PcieLatency {
  /** A posted write, one way: a register store reaching the device, a DMA write landing in RAM. */
  readonly postedWrite: number;
  /** A DMA read of host memory, request and completion. */
  readonly dmaRead: number;
  /** The MAC/PCS/serdes transmit pipeline: packet in the buffer to first bit on the wire. */
  readonly macTx: number;
  /** The receive pipeline: last bit at the port to the frame's DMA. */
  readonly macRx: number;
}

/** The profile's latencies (pciePostedWrite, pcieDmaRead, macTxLatency, macRxLatency). */
export function pcieLatencyOf(costs: CostModel): PcieLatency {
  return { postedWrite: costs.pciePostedWrite, dmaRead: costs.pcieDmaRead, macTx: costs.macTxLatency, macRx: costs.macRxLatency };
}

/** No latency at all: the device acts the instant it is told and its writes land at once. */
export const NO_PCIE_LATENCY: PcieLatency = { postedWrite: 0, dmaRead: 0, macTx: 0, macRx: 0 };
