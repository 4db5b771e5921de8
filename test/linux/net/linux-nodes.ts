/**
 * Linux machines with an 82599 port and its driver, for the network tests: the NIC at the BARs
 * PCI enumeration would report, probed and opened by the kernel model's ixgbe driver at boot.
 */
import { Machine } from '../../../core/vtx/machine.js';
import type { LlcGeometry } from '../../../core/vtx/last-level-cache.js';
import { Nic82599 } from '../../../core/vtx/devices/nic-82599.js';
import { Kernel, BLOCKED } from '../../../core/linux/kernel.js';
import { Ixgbe, IxgbeConfig } from '../../../core/linux/net/ixgbe.js';
import type { NetDevice, NetDeviceReceiver } from '../../../core/net/net-device.js';
import { NR } from '../../../core/linux/linux-abi.js';
import { RAX } from '../../../core/vtx/cpu.js';
import { syscall } from '../../../core/linux/user-abi.js';
import { ArgWidth } from '../../../core/linux/syscall-prototypes.js';
import { buildFrame } from '../../vtx/devices/nic-driver.js';

export const BAR0 = 0xf000_0000;
export const MSIX_BAR = 0xf004_0000;

export interface LinuxNode {
  m: Machine;
  k: Kernel;
  nic: Nic82599;
  dev: Ixgbe;
}

export function macOf(last: number): Uint8Array {
  return Uint8Array.from([0x00, 0x1b, 0x21, 0x00, 0x00, last]);
}

export function linuxNode(name: string, last: number, opts: { cpus?: number; rxPacketBuffer?: number; llc?: LlcGeometry | null } & IxgbeConfig = {}): LinuxNode {
  const m = new Machine({ memory: 32 << 20, cpus: opts.cpus ?? 1, ...(opts.llc !== undefined ? { llc: opts.llc } : {}) });
  const k = new Kernel(m);
  const nic = new Nic82599(m, { name, mac: macOf(last), rxPacketBuffer: opts.rxPacketBuffer });
  nic.map(BAR0, MSIX_BAR);
  const dev = Ixgbe.probe(k, { bar0: BAR0, msixBar: MSIX_BAR }, opts);
  dev.open();
  return { m, k, nic, dev };
}

/** A TCP/IPv4 frame from node `from` to node `to` (flow `i`: its source port), checksums filled. */
export function frameBetween(from: number, to: number, i: number, payload = 64): Uint8Array {
  const f = buildFrame({ dstMac: macOf(to), src: `10.0.0.${from}`, dst: `10.0.0.${to}`, srcPort: 1000 + i, dstPort: 7, payload });
  f.set(macOf(from), 6);
  return f;
}

/** A receiver that keeps what arrives (and may answer from the softirq). */
export class Collector implements NetDeviceReceiver {
  readonly frames: Uint8Array[] = [];
  readyCalls = 0;
  constructor(readonly onFrame?: (dev: NetDevice, frame: Uint8Array) => void) {}
  receive(dev: NetDevice, frame: Uint8Array): void {
    this.frames.push(frame);
    this.onFrame?.(dev, frame);
  }
  transmitReady(): void {
    this.readyCalls++;
  }
}

/** Private system calls of the test programs (numbers Linux does not have). */
export const NR_NETTEST_SEND = 1000;
export const NR_NETTEST_WAIT = 1001;

/**
 * A program on `node` that sends `n` frames to node `to` through the driver (one system call),
 * then sleeps until `n` frames have come back (the wake-up is the receiver's), then exits.
 */
export function senderProgram(node: LinuxNode, from: number, to: number, n: number, got: Collector): void {
  const { k, dev } = node;
  k.syscalls.addPrivate(NR_NETTEST_SEND, 'nettest_send', [ArgWidth.Int], (_ctx, count) => {
    let sent = 0;
    for (let i = 0; i < count; i++) if (dev.transmit(frameBetween(from, to, i))) sent++;
    return sent;
  });
  k.syscalls.addPrivate(NR_NETTEST_WAIT, 'nettest_wait', [ArgWidth.Int], ({ kernel, task }, count) => {
    if (got.frames.length >= count) return count;
    kernel.sleep(task, () => got.frames.length >= count, () => task.regs.set(RAX, count));
    return BLOCKED;
  });
  k.spawn('sender', (c) => {
    c.op('start', (cpu) => syscall(cpu, NR_NETTEST_SEND, n), 2);
    c.op(undefined, (cpu) => syscall(cpu, NR_NETTEST_WAIT, n), 2);
    c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0), 2);
    return 'start';
  });
}
