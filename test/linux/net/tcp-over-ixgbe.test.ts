import { describe, expect, it } from 'vitest';
import { Cluster } from '../../../core/cluster/cluster.js';
import { addKernelNode } from '../../../core/cluster/kernel-node.js';
import { EINPROGRESS } from '../../../core/linux/linux-abi.js';
import { KernelNetTimers } from '../../../core/linux/net/kernel-net-timers.js';
import { NetStack } from '../../../core/net/net-stack.js';
import { TCP_ESTABLISHED } from '../../../core/net/tcp-state.js';
import { linuxNode } from './linux-nodes.js';

const A_ADDR = 0x0a00_0001; // 10.0.0.1
const B_ADDR = 0x0a00_0002;

/** Two Linux machines, each with a TCP/IP stack on its ixgbe interface and its kernel's clock. */
function tcpPair() {
  const a = linuxNode('a', 1);
  const b = linuxNode('b', 2);
  const sa = new NetStack(new KernelNetTimers(a.k), { secret: 1 });
  const sb = new NetStack(new KernelNetTimers(b.k), { secret: 2 });
  sa.attach(a.dev, { address: A_ADDR, prefixLength: 24 });
  sb.attach(b.dev, { address: B_ADDR, prefixLength: 24 });
  a.dev.bind(sa);
  b.dev.bind(sb);
  const cluster = new Cluster();
  addKernelNode(cluster, 'a', a.k);
  addKernelNode(cluster, 'b', b.k);
  cluster.connect(a.nic, b.nic, 1e-6);
  return { a, b, sa, sb, cluster };
}

describe('TCP between two Linux machines through their 82599 drivers', () => {
  it('ARP, the handshake and an exchange of data cross the simulated wire; the stacks\' timers run on the kernels\' clocks', () => {
    const { a, b, sa, sb, cluster } = tcpPair();
    const server = sb.tcpSocket();
    expect(server.bind(0, 7)).toBe(0);
    expect(server.listen(16)).toBe(0);
    const client = sa.tcpSocket();
    expect(client.connect(B_ADDR, 7)).toBe(-EINPROGRESS);
    cluster.run(1e9); // 1 ms of cluster time
    expect(client.state).toBe(TCP_ESTABLISHED);
    const conn = server.accept();
    if (typeof conn === 'number') throw new Error(`accept: ${conn}`);
    expect(sa.counters.Arp.OutRequests).toBe(1);
    const msg = new TextEncoder().encode('hello over the wire, 64 bytes of payload make one small segment');
    expect(client.send(msg)).toBe(msg.length);
    cluster.run(2e9);
    const got = new Uint8Array(conn.available());
    expect(conn.recv(got)).toBe(msg.length);
    expect(got).toEqual(msg);
    // Every frame went through the drivers: rings, interrupts, NAPI.
    expect(a.dev.stats.txPackets).toBe(sa.counters.Link.TxFrames);
    expect(b.dev.stats.rxPackets).toBe(sb.counters.Link.RxFrames);
    expect(b.m.stats.get('linux.deviceIrqs')).toBeGreaterThan(0);
    expect(sa.counters.Tcp.RetransSegs + sb.counters.Tcp.RetransSegs).toBe(0);
  });
});
