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

/** An IX memcached server: the node, and its elastic thread once set up. */
export interface IxMemcachedServer extends MemcachedServerNode {
  readonly node: IxNode;
  readonly thread: ElasticThread | undefined;
}

/**
 * kvserver-ix on an IxNode as the server of a MemcachedRig (core/cluster/memcached-experiment.ts):
 * the same client host, workloads and SLA search as the Linux rows, with the dataplane — one
 * elastic thread polling its queue pair, B packets at most per pass — in place of the kernel's
 * stack under sockets. Its counts are the dataplane's: packets and batches, batched calls,
 * ring-3 → ring-0 crossings, VM exits, interrupts, MMIO writes, and cycles in ring 0 and ring 3.
 */
export function ixMemcachedServer(x: IxMemcachedServerOptions = {}): MemcachedServerFactory {
  return (cluster: Cluster, o: MemcachedExperimentOptions): IxMemcachedServer => {
    // The dataplane has one elastic thread today (one queue pair); the Linux rig's cpus is its core count.
    if (o.cpus !== 1) throw new RangeError(`the IX memcached server runs on 1 core, not ${o.cpus}`);
    const batch = x.batch ?? 64;
    if (!Number.isInteger(batch) || batch < 1 || batch > 64) throw new RangeError(`the batch bound B must be 1 to 64, got ${batch}`);
    const node = new IxNode(cluster, 'server', {
      profile: o.profile, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: SERVER_ADDR, port: MEMCACHED_PORT,
    });
    x.onNode?.(node);
    node.spawn(o.server, ['0', String(batch)]);
    node.start();
    return {
      node,
      nic: node.nic,
      get thread() {
        return node.setup.threads[0];
      },
      get output() {
        return node.output;
      },
      ready: () => node.setup.threads.length > 0,
      counts: () => ixServerCounts(node),
    };
  };
}

/** The server's counters; the rig reports their differences per request. */
function ixServerCounts(n: IxNode): Record<string, number> {
  const s = n.machine.stats;
  const t = n.setup.threads[0];
  let rxBatches = 0;
  if (t !== undefined) for (let i = 1; i < t.rxBatchHistogram.length; i++) rxBatches += t.rxBatchHistogram[i]!;
  const c = t?.counters;
  return {
    rxPackets: c?.rxPackets ?? 0,
    rxBatches,
    calls: c?.calls ?? 0,
    bpolls: c?.bpolls ?? 0,
    // SYSCALL instructions the CPU executed, less the ones Linux served (passed through): ring crossings.
    crossings: s.sum('syscalls') - s.get('linux.syscalls'),
    vmExits: s.sum('vmx.exits'),
    interrupts: s.sum('interrupts'),
    mmioWrites: (c?.tailWrites ?? 0) + (c?.rdtWrites ?? 0),
    // Ring 0 (the dataplane, libix's handler, Linux for the ticks) against ring 3 (the application).
    ...ringCycles(s),
    ...ringInstructions(s),
  };
}
