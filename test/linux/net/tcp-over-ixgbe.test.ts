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
function tcpPair(itr?: number, propagation = 1e-6) {
  // Without the last-level cache proxy: its first touches of each ring line land on some round
  // trips and not others, and these tests are about the driver, the wire and moderation.
  const a = linuxNode('a', 1, { itr, llc: null });
  const b = linuxNode('b', 2, { itr, llc: null });
  const sa = new NetStack(new KernelNetTimers(a.k), { secret: 1 });
  const sb = new NetStack(new KernelNetTimers(b.k), { secret: 2 });
  sa.attach(a.dev, { address: A_ADDR, prefixLength: 24 });
  sb.attach(b.dev, { address: B_ADDR, prefixLength: 24 });
  a.dev.bind(sa);
  b.dev.bind(sb);
  const cluster = new Cluster();
  addKernelNode(cluster, 'a', a.k);
  addKernelNode(cluster, 'b', b.k);
  cluster.connect(a.nic, b.nic, propagation);
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

  /** Half the round trip of 64-byte messages echoed from b's softirq, kernel to kernel (no system calls). */
  function pingPong(itr: number, rounds: number): number[] {
    const { a, sa, sb, cluster } = tcpPair(itr, 0.5e-6);
    const server = sb.tcpSocket();
    server.bind(0, 7);
    server.listen(16);
    const client = sa.tcpSocket();
    client.connect(B_ADDR, 7);
    cluster.run(1e9);
    const conn = server.accept();
    if (typeof conn === 'number') throw new Error(`accept: ${conn}`);
    client.noDelay = true;
    conn.noDelay = true;
    const buf = new Uint8Array(64);
    conn.onWake = () => {
      while (conn.available() >= 64) {
        conn.recv(buf);
        conn.send(buf);
      }
    };
    const psOf = (cycles: number): number => (cycles * 1e12) / a.m.costs.clockHz;
    const half: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let back = -1;
      client.onWake = () => {
        if (back < 0 && client.available() >= 64) {
          back = psOf(a.m.running!.cycles);
          client.recv(new Uint8Array(64));
        }
      };
      const sent = psOf(a.m.cpus[0]!.cycles);
      expect(client.send(new Uint8Array(64))).toBe(64);
      cluster.run(cluster.events.now + 1e9);
      expect(back).toBeGreaterThan(0);
      half.push((back - sent) / 2e6);
    }
    return half;
  }

  it('64-byte ping-pong: every round trip completes, the same each time; interrupt moderation (EITR) bounds it', () => {
    // EITR 0: an interrupt per cause. A poll's EIMS write with a cause pending interrupts at once,
    // while the handler still has interrupts off: the idle loop must take it, not sleep on it.
    const fast = pingPong(0, 10);
    const steady = fast.slice(1);
    expect(new Set(steady.map((x) => x.toFixed(6))).size).toBe(1);
    // Above the wire (0.5 µs and 113.6 ns of serialisation each way) plus the two sides' paths.
    expect(steady[0]!).toBeGreaterThan(0.5 + 0.1136);
    // IXGBE_100K_ITR: a side's transmit-done interrupt opens a 10.24 µs interval, and the reply's
    // interrupt waits for its end: the round trip is one interval plus a little.
    const moderated = pingPong(40, 4).slice(1);
    expect(moderated[0]! * 2).toBeGreaterThan(10.24);
    expect(moderated[0]! * 2).toBeLessThan(10.24 + 2 * steady[0]!);
  });
});
