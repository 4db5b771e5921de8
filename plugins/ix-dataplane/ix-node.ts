import type { ProfileFile } from '../../core/vtx/cost-model.js';
import { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import { bootLinux } from '../../core/system/boot-linux.js';
import type { Kernel } from '../../core/linux/kernel.js';
import type { Machine } from '../../core/vtx/machine.js';
import { spawnProgram } from '../../core/system/guest-path.js';
import type { Process } from '../../core/linux/task.js';
import { DuneModule } from '../../core/dune/dune-module.js';
import type { Cluster, ClusterNode } from '../../core/cluster/cluster.js';
import { addKernelNode } from '../../core/cluster/kernel-node.js';
import { NIC_BAR0, NIC_MSIX_BAR } from '../../core/cluster/linux-guest-node.js';
import { IxSetupHandler } from './ix-setup-handler.js';
import type { LlcGeometry } from '../../core/vtx/last-level-cache.js';
import { XEON_E5_2665_LLC } from '../../core/cluster/ix-server-llc.js';

export interface IxNodeOptions {
  readonly profile: string | ProfileFile;
  readonly mac: Uint8Array;
  readonly address: number;
  /** The TCP port the dataplane listens on for its application (ix.conf's `port`). */
  readonly port: number;
  /** CPUs of the machine, each a core for one elastic thread (default 1). */
  readonly cores?: number;
  /** The port's line rate (default 10 Gb/s, the 82599's). */
  readonly bitsPerSecond?: number;
  /**
   * The last-level cache proxy (default: the IX paper's server, XEON_E5_2665_LLC, as the Linux
   * servers of the same experiments have; null: none).
   */
  readonly llc?: LlcGeometry | null;
  /** Each elastic thread's flow table (default: ElasticThread's DEFAULT_MAX_FLOWS). */
  readonly maxFlows?: number;
}

/**
 * A cluster machine that runs IX: Linux (the control plane, VMX root) with the Dune module, whose
 * exit handlers include IX's set-up hypercall, and an 82599 port that Linux does not drive — the
 * dataplane takes its queue pairs. Each CPU is the core of one elastic thread.
 */
export class IxNode {
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly nic: Nic82599;
  readonly setup: IxSetupHandler;
  readonly node: ClusterNode;
  output = '';

  constructor(cluster: Cluster, readonly name: string, o: IxNodeOptions) {
    const { machine, kernel } = bootLinux({ profile: o.profile, memory: 256 << 20, cpus: o.cores ?? 1, llc: o.llc === undefined ? XEON_E5_2665_LLC : o.llc });
    this.machine = machine;
    this.kernel = kernel;
    const dec = new TextDecoder();
    kernel.console = (_fd, d) => (this.output += dec.decode(d));
    this.nic = new Nic82599(machine, { name, mac: o.mac, bitsPerSecond: o.bitsPerSecond });
    this.nic.map(NIC_BAR0, NIC_MSIX_BAR);
    this.setup = new IxSetupHandler(machine, this.nic, o.address, o.port, o.mac, o.cores ?? 1, o.maxFlows);
    new DuneModule(kernel, { exitHandlers: [this.setup] });
    this.node = addKernelNode(cluster, name, kernel);
  }

  spawn(path: string, args: string[]): Process {
    return spawnProgram(this.kernel, path, args);
  }

  start(): void {
    this.kernel.start();
  }
}
