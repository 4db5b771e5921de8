import type { Kernel } from '../linux/kernel.js';
import type { Cluster, ClusterNode } from './cluster.js';

/**
 * Puts a machine that runs the Linux model into a cluster: the node moves on by the kernel's run
 * loop (its tasks, device interrupts, softirqs and timers) up to each window's end; while its CPUs
 * are idle it waits for a device event or a kernel timer, whichever comes first; and a task asleep
 * when the whole cluster can no longer move is reported, not taken for a finished run. Call
 * `kernel.start()` before the cluster runs.
 */
export function addKernelNode(cluster: Cluster, name: string, kernel: Kernel): ClusterNode {
  const m = kernel.machine;
  return cluster.addNode(name, m, (_m, until) => void kernel.run(until), {
    nextWake: () => Math.min(m.nextEventAt, kernel.nextTimerDeadline),
    blocked: () => kernel.describeBlocked(),
  });
}
