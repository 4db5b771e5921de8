/**
 * A full receive ring on the IX dataplane: an application that stays away from the dataplane
 * (hostile-ix stall: 3 ms asleep in Linux, no batch) leaves the RX ring unreplenished while 128
 * clients each send their first window. The 82599 keeps what fits in its packet buffer and drops
 * and counts the rest (MPC); nothing leaks, and TCP's retransmissions deliver every byte.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../core/cluster/cluster.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { IX_BIN } from '../../plugins/ix-dataplane/ix-bench-suite.js';
import { IxNode } from '../../plugins/ix-dataplane/ix-node.js';

const HOSTILE_IX = join(IX_BIN, 'hostile-ix');
const FLOWS = 128;
const BYTES = 16384;

describe('a full IX receive ring', () => {
  it('drops and counts at the NIC, leaks no mbuf, and every flow recovers by retransmission', () => {
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: 'dune-e3-1230v2', mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: 0x0a00_0001, port: 7 });
    const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), 0x0a00_0002, 24, 2);
    cluster.connectHost(server.nic, client, 0.5e-6);
    const proc = server.spawn(HOSTILE_IX, ['stall', String(FLOWS)]);
    server.start();
    const run = (done: () => boolean, steps: number, ps: number): void => {
      for (let i = 0; i < steps && !done(); i++) cluster.run(cluster.events.now + ps);
    };
    run(() => server.setup.threads.length > 0, 200, 1e9);
    const socks: TcpSocket[] = [];
    for (let i = 0; i < FLOWS; i++) {
      const s = client.stack.tcpSocket();
      s.setSendBuffer(BYTES);
      expect(s.connect(0x0a00_0001, 7)).toBe(-EINPROGRESS);
      socks.push(s);
      if (i % 16 === 15 || i === 0) run(() => socks.every((x) => x.stateName === 'ESTABLISHED'), 100, 1e8);
    }
    run(() => server.output.includes('accepted:'), 100, 1e8);
    expect(server.output).toContain(`accepted: ${FLOWS}`);
    // While the application sleeps: each flow's initial window, 10 segments, more than ring and packet buffer hold.
    for (const s of socks) expect(s.send(new Uint8Array(BYTES).fill(0x5a))).toBe(BYTES);
    run(() => server.nic.rx.mpc > 0, 100, 1e8);
    const t = server.setup.threads[0]!;
    expect(server.nic.rx.mpc).toBeGreaterThan(0);
    const dropped = server.nic.rx.mpc;
    run(() => socks.every((s) => s.unacknowledged() === 0), 400, 1e10);
    expect(socks.every((s) => s.unacknowledged() === 0)).toBe(true);
    expect(client.stack.counters.Tcp.RetransSegs).toBeGreaterThanOrEqual(dropped);
    for (const s of socks) s.close();
    run(() => proc.zombie, 200, 1e9);
    expect(proc.zombie, server.output).toBe(true);
    expect(server.output).toContain(`bytes received: ${FLOWS * BYTES}`);
    expect(server.output).toContain(`connections closed: ${FLOWS}`);
    expect(t.mbufsHeld).toBe(0);
  }, 60_000);
});
