import type { ProfileFile } from '../vtx/cost-model.js';
import type { LlcGeometry } from '../vtx/last-level-cache.js';
import { Nic82599 } from '../vtx/devices/nic-82599.js';
import { bootLinux } from '../system/boot-linux.js';
import type { Kernel } from '../linux/kernel.js';
import type { Machine } from '../vtx/machine.js';
import { Ixgbe, IxgbeConfig } from '../linux/net/ixgbe.js';
import { spawnProgram } from '../system/guest-path.js';
import type { Process } from '../linux/task.js';
import type { Cluster, ClusterNode } from './cluster.js';
import { addKernelNode } from './kernel-node.js';

/** Where PCI enumeration puts the 82599's BARs on these machines (above RAM, below 4 GiB). */
export const NIC_BAR0 = 0xf000_0000;
export const NIC_MSIX_BAR = 0xf004_0000;

export interface LinuxGuestNodeOptions extends IxgbeConfig {
  readonly profile: string | ProfileFile;
  readonly cpus: number;
  /** Bytes of RAM (default 256 MiB). */
  readonly memory?: number;
  readonly mac: Uint8Array;
  /** The port's IPv4 address and prefix (`ip addr add`). */
  readonly address: number;
  readonly prefixLength: number;
  /** The last-level cache proxy's geometry (default: the profile's; null: none). */
  readonly llc?: LlcGeometry | null;
}

/**
 * A Linux machine of a cluster on which guest programs use the simulated network: an 82599 port
 * driven by the kernel model's ixgbe, the kernel's TCP/IP stack (`--net sim`) on it with the
 * node's address, and programs started with `spawn` (their stdout and stderr are kept).
 */
export class LinuxGuestNode {
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly nic: Nic82599;
  readonly dev: Ixgbe;
  readonly node: ClusterNode;
  /** What the node's programs wrote to fds 1 and 2. */
  output = '';

  constructor(cluster: Cluster, readonly name: string, o: LinuxGuestNodeOptions) {
    const { machine, kernel } = bootLinux({ profile: o.profile, memory: o.memory ?? 256 << 20, cpus: o.cpus, ...(o.llc !== undefined ? { llc: o.llc } : {}) });
    this.machine = machine;
    this.kernel = kernel;
    const dec = new TextDecoder();
    kernel.console = (_fd, d) => (this.output += dec.decode(d));
    this.nic = new Nic82599(machine, { name, mac: o.mac });
    this.nic.map(NIC_BAR0, NIC_MSIX_BAR);
    this.dev = Ixgbe.probe(kernel, { bar0: NIC_BAR0, msixBar: NIC_MSIX_BAR }, o);
    this.dev.open();
    kernel.netMode = 'sim';
    kernel.simNet.attach(this.dev, { address: o.address, prefixLength: o.prefixLength });
    this.node = addKernelNode(cluster, name, kernel);
  }

  /** Starts a static ELF as a process of this machine (call `start` once all are spawned). */
  spawn(path: string, args: string[]): Process {
    return spawnProgram(this.kernel, path, args);
  }

  start(): void {
    this.kernel.start();
  }
}
