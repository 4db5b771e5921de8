/**
 * kvserver-ix on two cores: two elastic threads, each serving the flows RSS steers to its queue,
 * sharing one table (memcached's worker threads). Both cores serve a load, and what is set
 * through one core is what the other reads.
 */
import { describe, expect, it } from 'vitest';
import { SERVER_ADDR } from '../../core/cluster/echo-experiment.js';
import { MemcachedRig } from '../../core/cluster/memcached-experiment.js';
import { USR } from '../../core/cluster/memcached-workload.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { KV_IX } from '../../plugins/ix-dataplane/ix-memcached-bench-suite.js';
import { IxMemcachedServer, ixMemcachedServer } from '../../plugins/ix-dataplane/ix-memcached-experiment.js';
import { exchange } from '../cluster/socket-exchange.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('kvserver-ix on two cores', () => {
  it('serves from both cores, and a key set through one core is read and deleted through the other', () => {
    let server: IxMemcachedServer | undefined;
    const f = ixMemcachedServer();
    const rig = new MemcachedRig({
      profile: 'dune-e3-1230v2', server: KV_IX, cpus: 2, workload: USR, connections: 16, records: 20,
      serverNode: (c, o) => (server = f(c, o) as IxMemcachedServer),
    });
    const threads = server!.threads;
    expect(threads.length).toBe(2);
    const before = threads.map((t) => t.counters.rxPackets);
    const p = rig.measure(40_000, 0.002);
    expect(p.issued).toBeGreaterThan(40);
    expect(p.completed).toBe(p.issued);
    expect(p.errors).toBe(0);
    expect(p.misses).toBe(0);
    // RSS spread the 16 flows over both queues, and each core answered its share
    for (let i = 0; i < 2; i++) expect(threads[i]!.counters.rxPackets).toBeGreaterThan(before[i]! + 5);

    // New connections until there is one on each core: which core serves a flow shows in whose counters move.
    const onCore: (TcpSocket | undefined)[] = [undefined, undefined];
    const ask = (s: TcpSocket, req: string, want: string): string => dec.decode(exchange(rig.cluster, s, enc.encode(req), want.length));
    for (let k = 0; k < 16 && (onCore[0] === undefined || onCore[1] === undefined); k++) {
      const s = rig.client.stack.tcpSocket();
      s.noDelay = true;
      s.connect(SERVER_ADDR, 11211);
      rig.cluster.run(rig.cluster.events.now + 1e9);
      expect(s.state).toBe(TCP_ESTABLISHED);
      const was = threads.map((t) => t.counters.rxPackets);
      expect(ask(s, 'get probe\r\n', 'END\r\n')).toBe('END\r\n');
      const moved = threads.map((t, i) => t.counters.rxPackets > was[i]!);
      expect(moved[0] !== moved[1]).toBe(true);
      onCore[moved[0] ? 0 : 1] ??= s;
    }
    const [a, b] = onCore;
    expect(a !== undefined && b !== undefined).toBe(true);
    expect(ask(a!, 'set shared 7 0 5\r\nhello\r\n', 'STORED\r\n')).toBe('STORED\r\n');
    const value = 'VALUE shared 7 5\r\nhello\r\nEND\r\n';
    expect(ask(b!, 'get shared\r\n', value)).toBe(value);
    expect(ask(b!, 'delete shared\r\n', 'DELETED\r\n')).toBe('DELETED\r\n');
    expect(ask(a!, 'get shared\r\n', 'END\r\n')).toBe('END\r\n');

    for (const c of rig.connections) c.sock.close();
    a!.close();
    b!.close();
    rig.cluster.run(rig.cluster.events.now + 5e9);
    expect(server!.mbufsHeld).toBe(0);
  }, 60_000);

  it('refuses more cores than libix has elastic threads for', () => {
    expect(() => new MemcachedRig({ profile: 'dune-e3-1230v2', server: KV_IX, cpus: 9, workload: USR, connections: 1, records: 1, serverNode: ixMemcachedServer() })).toThrow(/1 to 8 cores/);
  });
});
