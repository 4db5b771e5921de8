/**
 * Several Linux machines' 82599 ports on one switch (Cluster.connectSwitch): ARP requests are
 * flooded, the switch learns where each station is, and two clients reach one server at once,
 * every frame through the drivers' rings and interrupts.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../../core/cluster/cluster.js';
import { addKernelNode } from '../../../core/cluster/kernel-node.js';
import { EINPROGRESS } from '../../../core/linux/linux-abi.js';
import { KernelNetTimers } from '../../../core/linux/net/kernel-net-timers.js';
import { NetStack } from '../../../core/net/net-stack.js';
import { TCP_ESTABLISHED } from '../../../core/net/tcp-state.js';
import { linuxNode } from './linux-nodes.js';

const addr = (n: number): number => 0x0a00_0000 + n;

describe('Linux machines on a switch', () => {
  it('two clients reach one server through the switch; broadcasts flood, unicast goes to the learned port only', () => {
    const cluster = new Cluster();
    const nodes = [1, 2, 3].map((n) => {
      const node = linuxNode(`n${n}`, n);
      const stack = new NetStack(new KernelNetTimers(node.k), { secret: n });
      stack.attach(node.dev, { address: addr(n), prefixLength: 24 });
      node.dev.bind(stack);
      addKernelNode(cluster, `n${n}`, node.k);
      return { ...node, stack };
    });
    const sw = cluster.connectSwitch(nodes.map((n) => n.nic), { propagationSeconds: 0.5e-6, forwardingSeconds: 1e-6 });
    const server = nodes[2]!.stack.tcpSocket();
    expect(server.bind(0, 7)).toBe(0);
    expect(server.listen(16)).toBe(0);
    const clients = [nodes[0]!, nodes[1]!].map((n) => {
      const c = n.stack.tcpSocket();
      expect(c.connect(addr(3), 7)).toBe(-EINPROGRESS);
      return c;
    });
    cluster.run(2e9);
    expect(clients.map((c) => c.state)).toEqual([TCP_ESTABLISHED, TCP_ESTABLISHED]);
    const conns = [server.accept(), server.accept()];
    for (const c of conns) if (typeof c === 'number') throw new Error(`accept: ${c}`);
    const msgs = ['from n1: hello', 'from n2: hello!'].map((m) => new TextEncoder().encode(m));
    clients.forEach((c, i) => expect(c.send(msgs[i]!)).toBe(msgs[i]!.length));
    cluster.run(cluster.events.now + 2e9);
    const got = (conns as Array<Exclude<typeof conns[number], number>>).map((c) => {
      const b = new Uint8Array(c.available());
      c.recv(b);
      return new TextDecoder().decode(b);
    }).sort();
    expect(got).toEqual(['from n1: hello', 'from n2: hello!']);
    // Each client's ARP request was flooded to both other ports; n2 heard n1's and did not answer.
    expect(nodes[0]!.stack.counters.Arp.OutRequests).toBe(1);
    expect(nodes[1]!.stack.counters.Arp.OutRequests).toBe(1);
    expect(nodes[1]!.stack.counters.Arp.InRequests + nodes[0]!.stack.counters.Arp.InRequests).toBe(2);
    expect(nodes[2]!.stack.counters.Arp.InRequests).toBe(2);
    expect(nodes[2]!.stack.counters.Arp.OutReplies).toBe(2);
    // Unicast went only to its learned port: n1 never received n2's TCP segments.
    const tcpIn = nodes.map((n) => n.stack.counters.Tcp.InSegs);
    const tcpOut = nodes.map((n) => n.stack.counters.Tcp.OutSegs);
    expect(tcpIn[2]).toBe(tcpOut[0]! + tcpOut[1]!);
    expect(tcpIn[0]! + tcpIn[1]!).toBe(tcpOut[2]);
    // The server's port link carried both clients' frames; nothing was dropped.
    expect(sw.port(2).frames).toBe(nodes[2]!.dev.stats.rxPackets);
    expect(sw.port(0).dropped + sw.port(1).dropped + sw.port(2).dropped).toBe(0);
    expect(nodes.reduce((s, n) => s + n.stack.counters.Tcp.RetransSegs, 0)).toBe(0);
  });
});
