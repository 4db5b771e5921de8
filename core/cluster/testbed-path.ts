/**
 * The path between two hosts of the IX paper's testbed (OSDI'14 §5.1): each host's 82599 port is
 * cabled to one 48-port 10 GbE switch, a Quanta/Cumulus box on Broadcom's Trident+ ASIC, which
 * forwards cut-through. With one sender per output port and both ports at 10 Gb/s nothing queues
 * in it, so a frame leaves the far port a fixed port-to-port latency after it entered: the switch
 * is a constant on this path, not a second serialisation.
 */
export interface TestbedPath {
  /** Both cables together, one way (seconds). */
  readonly propagationSeconds: number;
  /** The switch's port-to-port latency (seconds). */
  readonly switchSeconds: number;
}

/**
 * Cut-through port-to-port latency of a Trident+ switch at 10 GbE: the Arista 7050S data sheet
 * (the same ASIC) gives 800 ns to 1.35 µs; a 64-byte frame sees the low end. The IX paper's own
 * estimate ("a few hundred ns" per crossing, §2.2) is below it. Not fitted to any paper row.
 */
export const TRIDENT_PLUS_SECONDS = 0.8e-6;

/** A rack's cables: two of about 3 m (SFP+ direct attach), at 5 ns/m (the paper's 500 ns per 100 m). */
export const RACK_CABLES_SECONDS = 2 * 3 * 5e-9;

export const IX_TESTBED_PATH: TestbedPath = { propagationSeconds: RACK_CABLES_SECONDS, switchSeconds: TRIDENT_PLUS_SECONDS };

/** The one-way delay of the path: cables and the switch. */
export function pathSeconds(p: TestbedPath): number {
  return p.propagationSeconds + p.switchSeconds;
}
