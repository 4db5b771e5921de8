import type { LlcGeometry } from '../vtx/last-level-cache.js';

/**
 * The last-level cache of the IX paper's server, a Xeon E5-2665 (Sandy Bridge-EP), which the
 * cluster experiments give their simulated servers in place of the profile's: the experiments
 * reproduce that paper's figures, whose per-connection working set met this cache.
 */
export const XEON_E5_2665_LLC: LlcGeometry = {
  bytes: 20 * 1024 * 1024,
  ways: 20,
  lineBytes: 64,
  missNs: 80,
  ddioWays: 2,
  source: 'Xeon E5-2665: 20 MB shared L3, 20-way set associative, 64-byte lines (Intel ARK; the Optimization Reference Manual\'s Sandy Bridge cache table for the line size). ' +
    'Miss: about 80 ns, the idle local-DRAM latency reported for Sandy Bridge-EP Xeons with Intel\'s Memory Latency Checker (J. Chang, "Memory Latency II", qdpma.com, 2018, collects such measurements); not measured on this part, and charged in full per miss (the model has no memory-level parallelism). ' +
    'Data Direct I/O: inbound DMA writes allocate into the LLC, limited to about 10 % of it (Intel\'s DDIO technology brief), i.e. 2 of the 20 ways.',
};
