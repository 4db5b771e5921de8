import type { NetDevice, NetDeviceReceiver } from '../../net/net-device.js';
import type { NetInterface, NetInterfaceConfig } from '../../net/net-interface.js';
import { NetStack } from '../../net/net-stack.js';
import type { Kernel } from '../kernel.js';
import { KernelNetTimers } from './kernel-net-timers.js';
import { LoopbackDevice } from './loopback-device.js';
import { SlabMemory } from './slab-memory.js';
import { INADDR_LOOPBACK } from './socket-file.js';

/** A driver the stack can sit on: a NetDevice that hands what it receives to one receiver. */
export interface BindableNetDevice extends NetDevice {
  bind(receiver: NetDeviceReceiver): void;
}

/**
 * A machine's simulated network under `--net sim`: one TCP/IP stack (core/net) on the kernel's
 * clock (KernelNetTimers), with the loopback interface up at 127.0.0.1/8 as at boot, and the
 * machine's NIC ports as they are attached (`attach`, a cluster node's 82599 through ixgbe).
 * Guest sockets (stream-socket-file.ts, udp-socket-file.ts) are this stack's sockets.
 */
export class SimNet {
  readonly stack: NetStack;
  readonly loopback: LoopbackDevice;
  /** The kernel objects of connections, for the machine's last-level cache proxy (none without one). */
  readonly memory: SlabMemory | undefined;

  /**
   * `secret` keys the stack's sequence numbers and ephemeral ports (Linux draws its key at boot);
   * a fixed one keeps runs deterministic, and two machines of a cluster are given different ones.
   */
  constructor(kernel: Kernel, secret = 0x6c6f) {
    const timers = new KernelNetTimers(kernel);
    this.stack = new NetStack(timers, { secret });
    if (kernel.machine.llc !== undefined) this.stack.memory = this.memory = new SlabMemory(kernel.machine);
    this.loopback = new LoopbackDevice(timers);
    this.stack.attach(this.loopback, { address: INADDR_LOOPBACK, prefixLength: 8 });
    this.loopback.bind(this.stack);
  }

  /** Brings up a NIC port with an address (`ip addr add` and `ip link set up`). */
  attach(dev: BindableNetDevice, config: NetInterfaceConfig): NetInterface {
    const iface = this.stack.attach(dev, config);
    dev.bind(this.stack);
    return iface;
  }
}
