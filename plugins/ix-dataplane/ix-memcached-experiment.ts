import type { Cluster } from '../../core/cluster/cluster.js';
import { SERVER_ADDR } from '../../core/cluster/echo-experiment.js';
import { MEMCACHED_PORT, MemcachedExperimentOptions, MemcachedServerFactory, MemcachedServerNode } from '../../core/cluster/memcached-experiment.js';
import { ringCycles, ringInstructions } from '../../core/vtx/cpu-mode.js';
import { IxNode } from './ix-node.js';
import type { ElasticThread } from './elastic-thread.js';

export interface IxMemcachedServerOptions {
  /** The batch bound B (default 64). */
  readonly batch?: number;
  /** Called with the node once it is built (tests and the run command read its thread). */
  readonly onNode?: (node: IxNode) => void;
}

/** An IX memcached server: the node, and its elastic threads (one per core) once set up. */
export interface IxMemcachedServer extends MemcachedServerNode {
  readonly node: IxNode;
  readonly threads: readonly ElasticThread[];
  /** mbufs the threads hold for the application (after every connection has closed: a leak). */
  readonly mbufsHeld: number;
}

/** Elastic threads one kvserver-ix may run (libix's IX_MAX_THREADS). */
export const IX_MEMCACHED_MAX_CORES = 8;

/**
 * kvserver-ix on an IxNode as the server of a MemcachedRig (core/cluster/memcached-experiment.ts):
 * the same client host, workloads and SLA search as the Linux rows, with the dataplane — one
 * elastic thread polling its queue pair, B packets at most per pass — in place of the kernel's
 * stack under sockets. Its counts are the dataplane's: packets and batches, batched calls,
 * ring-3 → ring-0 crossings, VM exits, interrupts, MMIO writes, and cycles in ring 0 and ring 3.
 */
export function ixMemcachedServer(x: IxMemcachedServerOptions = {}): MemcachedServerFactory {
  return (cluster: Cluster, o: MemcachedExperimentOptions): IxMemcachedServer => {
    // The rig's cpus is the core count: one elastic thread (and queue pair) per core.
    const cores = o.cpus;
    if (!Number.isInteger(cores) || cores < 1 || cores > IX_MEMCACHED_MAX_CORES) throw new RangeError(`the IX memcached server runs on 1 to ${IX_MEMCACHED_MAX_CORES} cores, not ${cores}`);
    const batch = x.batch ?? 64;
    if (!Number.isInteger(batch) || batch < 1 || batch > 64) throw new RangeError(`the batch bound B must be 1 to 64, got ${batch}`);
    const node = new IxNode(cluster, 'server', {
      profile: o.profile, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: SERVER_ADDR, port: MEMCACHED_PORT, cores,
    });
    x.onNode?.(node);
    const proc = node.spawn(o.server, ['0', String(batch), String(cores)]);
    node.start();
    return {
      node,
      nic: node.nic,
      get threads() {
        return node.setup.threads;
      },
      get mbufsHeld() {
        return node.setup.threads.reduce((a, t) => a + t.mbufsHeld, 0);
      },
      get output() {
        return node.output;
      },
      // Every core's thread elastic before the first SYN (flow groups are dealt as cores join).
      ready: () => {
        if (proc.zombie) throw new Error(`kvserver-ix exited during set-up: ${node.output.trim()}`);
        return node.setup.threads.length === cores;
      },
      counts: () => ixServerCounts(node),
    };
  };
}

/** The server's counters, summed over its elastic threads; the rig reports their differences per request. */
function ixServerCounts(n: IxNode): Record<string, number> {
  const s = n.machine.stats;
  let rxBatches = 0;
  let rxPackets = 0;
  let calls = 0;
  let bpolls = 0;
  let mmioWrites = 0;
  for (const t of n.setup.threads) {
    for (let i = 1; i < t.rxBatchHistogram.length; i++) rxBatches += t.rxBatchHistogram[i]!;
    rxPackets += t.counters.rxPackets;
    calls += t.counters.calls;
    bpolls += t.counters.bpolls;
    mmioWrites += t.counters.tailWrites + t.counters.rdtWrites;
  }
  return {
    rxPackets,
    rxBatches,
    calls,
    bpolls,
    // SYSCALL instructions the CPU executed, less the ones Linux served (passed through): ring crossings.
    crossings: s.sum('syscalls') - s.get('linux.syscalls'),
    vmExits: s.sum('vmx.exits'),
    interrupts: s.sum('interrupts'),
    mmioWrites,
    // Ring 0 (the dataplane, libix's handler, Linux for the ticks) against ring 3 (the application).
    ...ringCycles(s),
    ...ringInstructions(s),
  };
}
