/**
 * memcached on IX: kvserver-ix as the server of the memcached rig (the client host, workloads and
 * load of the Linux rows), and the bad input the issue names — a malformed request, a client that
 * resets in the middle of one, answers bigger than ixev's send ring — with the dataplane intact.
 */
import { describe, expect, it } from 'vitest';
import { SERVER_ADDR } from '../../core/cluster/echo-experiment.js';
import { MemcachedRig, meetsSla } from '../../core/cluster/memcached-experiment.js';
import { USR } from '../../core/cluster/memcached-workload.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { KV_IX } from '../../plugins/ix-dataplane/ix-memcached-bench-suite.js';
import { IxMemcachedServer, ixMemcachedServer } from '../../plugins/ix-dataplane/ix-memcached-experiment.js';
import { exchange, rawMemcachedConnection } from '../cluster/socket-exchange.js';

const PROFILE = 'dune-e3-1230v2';
const enc = new TextEncoder();

function ixRig(connections: number, records: number, batch?: number): { rig: MemcachedRig; server: () => IxMemcachedServer } {
  let server: IxMemcachedServer | undefined;
  const f = ixMemcachedServer({ batch });
  const rig = new MemcachedRig({
    profile: PROFILE, server: KV_IX, cpus: 1, workload: USR, connections, records,
    serverNode: (c, o) => (server = f(c, o) as IxMemcachedServer),
  });
  return { rig, server: () => server! };
}

describe('kvserver-ix in the memcached rig', () => {
  it('answers every request from the table, polled and batched (no interrupt), the same run giving the same figures', () => {
    const run = () => {
      const { rig, server } = ixRig(8, 40);
      return { p: rig.measure(40_000, 0.002), t: server().threads[0]! };
    };
    const { p: a, t } = run();
    expect(a.issued).toBeGreaterThan(50);
    expect(a.completed).toBe(a.issued);
    expect(a.errors).toBe(0);
    expect(a.misses).toBe(0);
    expect(a.p50Us).toBeGreaterThan(2 * 0.5); // two 0.5 µs wires at least
    expect(a.perRequest.rxPackets).toBeGreaterThanOrEqual(1);
    expect(a.perRequest.interrupts).toBe(0);
    expect(a.perRequest.crossings!).toBeLessThanOrEqual(2.5);
    expect(meetsSla(a, 500)).toBe(true);
    expect(t.counters.maxRxBatch).toBeLessThanOrEqual(64);
    const { p: b } = run();
    expect(b.p99Us).toBe(a.p99Us);
    expect(b.achievedPerSecond).toBe(a.achievedPerSecond);
  }, 60_000);

  it('refuses the batch bound and core count it cannot have', () => {
    expect(() => ixRig(1, 1, 0)).toThrow(/batch bound/);
    expect(() => new MemcachedRig({ profile: PROFILE, server: KV_IX, cpus: 0, workload: USR, connections: 1, records: 1, serverNode: ixMemcachedServer() })).toThrow(/1 to 8 cores/);
  });

  it('a malformed request gets ERROR, a client that resets mid-SET is dropped, and the others are served with no mbuf lost', () => {
    const { rig, server } = ixRig(4, 20);
    const raw = (): TcpSocket => rawMemcachedConnection(rig);
    const half = raw();
    half.send(enc.encode('set k 0 0 100\r\nabc'));
    rig.cluster.run(rig.cluster.events.now + 1e8);
    half.abort();
    const junk = raw();
    junk.send(enc.encode('bogus\r\nset k 0 0 x\r\nget\r\n'));
    rig.cluster.run(rig.cluster.events.now + 1e9);
    const buf = new Uint8Array(256);
    const n = junk.recv(buf);
    expect(new TextDecoder().decode(buf.subarray(0, Math.max(0, n)))).toBe('ERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n');
    junk.close();
    const p = rig.measure(20_000, 0.002);
    expect(p.completed).toBe(p.issued);
    expect(p.errors).toBe(0);
    for (const c of rig.connections) c.sock.close();
    rig.cluster.run(rig.cluster.events.now + 5e9);
    // Every mbuf is back in the pool or on the RX ring: the reset flow's held ones included.
    expect(server().threads[0]!.mbufsHeld).toBe(0);
    expect(server().threads[0]!.counters.callErrors).toBe(0);
  }, 60_000);

  it('answers bigger than ixev\'s send ring: sent events make room and every byte arrives in order', () => {
    const { rig } = ixRig(1, 1);
    const s = rig.client.stack.tcpSocket();
    s.setSendBuffer(1 << 20);
    s.connect(SERVER_ADDR, 11211);
    rig.cluster.run(rig.cluster.events.now + 1e9);
    const value = new Uint8Array(100_000).map((_, i) => 0x41 + (i % 23));
    const cat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
    // a 100 kB SET, then 4 GETs of it pipelined: 400 kB of answers, ixev holds 16 kB at a time
    const tx = cat(enc.encode('set big 3 0 100000\r\n'), value, enc.encode('\r\n'), enc.encode('get big\r\n'.repeat(4)));
    const one = cat(enc.encode('VALUE big 3 100000\r\n'), value, enc.encode('\r\nEND\r\n'));
    const want = cat(enc.encode('STORED\r\n'), ...Array.from({ length: 4 }, () => one));
    const rx = exchange(rig.cluster, s, tx, want.length);
    expect(rx.length).toBe(want.length);
    expect(Buffer.from(rx).equals(Buffer.from(want))).toBe(true);
  }, 60_000);
});
