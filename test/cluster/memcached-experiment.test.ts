/**
 * The memcached experiment's parts: the ETC and USR workloads as the IX paper describes them, the
 * text-protocol client's parsing of pipelined replies however TCP cuts them, and a short run of
 * examples/guest/kvserver on a simulated Linux machine under open-loop load.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { SeededRandom } from '../../core/cluster/load-generators.js';
import { ETC, MemcachedKeySpace, MemcachedRequestStream, USR } from '../../core/cluster/memcached-workload.js';
import { MemcachedConnection, MemcachedReply } from '../../core/cluster/memcached-client.js';
import { MemcachedRig, meetsSla } from '../../core/cluster/memcached-experiment.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { SERVER_ADDR } from '../../core/cluster/echo-experiment.js';
import { exchange, rawMemcachedConnection } from './socket-exchange.js';

const KV = join(GUEST_BIN, 'kvserver');

describe('memcached workloads (IX §5.5: ETC and USR)', () => {
  it('ETC: 20–70 byte keys, 1 B–1 KB values, 75 % GETs; USR: keys under 20 bytes, 2-byte values, 99 % GETs', () => {
    const etc = new MemcachedKeySpace(ETC, 5000, 7);
    const lens = etc.keys.map((k) => k.length);
    expect(Math.min(...lens)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...lens)).toBeLessThanOrEqual(70);
    const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
    expect(mean).toBeGreaterThan(30);
    expect(mean).toBeLessThan(40);
    expect(new Set(etc.keys).size).toBe(5000);
    const rng = new SeededRandom(3);
    const values = Array.from({ length: 5000 }, () => ETC.valueBytes(rng));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...values)).toBeLessThanOrEqual(1024);
    // the table of small sizes holds 44 % of the values; 2 and 3 bytes alone 27 %
    expect(values.filter((v) => v < 15).length / values.length).toBeCloseTo(0.44, 1);
    const s = new MemcachedRequestStream(etc, 9);
    const reqs = Array.from({ length: 20000 }, () => s.next());
    expect(reqs.filter((r) => r.get).length / reqs.length).toBeCloseTo(0.75, 1);
    const usr = new MemcachedKeySpace(USR, 1000, 7);
    expect(usr.keys.every((k) => k.length < 20)).toBe(true);
    const u = new MemcachedRequestStream(usr, 9);
    const ureqs = Array.from({ length: 20000 }, () => u.next());
    expect(ureqs.filter((r) => r.get).length / ureqs.length).toBeCloseTo(0.99, 2);
    expect(ureqs.filter((r) => !r.get).every((r) => r.valueBytes === 2)).toBe(true);
  });
});

/** A socket that keeps what is sent and hands out what the test feeds it. */
function fakeSocket(): { sock: TcpSocket; sent: string[]; feed: (s: string) => void } {
  const sent: string[] = [];
  let rx = new Uint8Array(0);
  const sock = {
    state: TCP_ESTABLISHED,
    onWake: null as null | (() => void),
    send(d: Uint8Array): number {
      sent.push(new TextDecoder().decode(d));
      return d.length;
    },
    recv(dst: Uint8Array): number {
      if (rx.length === 0) return -11;
      const n = Math.min(dst.length, rx.length);
      dst.set(rx.subarray(0, n));
      rx = rx.slice(n);
      return n;
    },
  };
  const feed = (s: string): void => {
    rx = new TextEncoder().encode(s);
    sock.onWake!();
  };
  return { sock: sock as unknown as TcpSocket, sent, feed };
}

describe('the text-protocol client', () => {
  it('pipelines up to its depth, parses replies cut anywhere (values may hold "END" and CR LF), and flags replies to the wrong key', () => {
    const { sock, sent, feed } = fakeSocket();
    const c = new MemcachedConnection(sock, 2);
    const got: MemcachedReply[] = [];
    c.get('a', (r) => got.push(r));
    c.set('b', new TextEncoder().encode('xy'), (r) => got.push(r));
    c.get('c', (r) => got.push(r));
    c.get('d', (r) => got.push(r));
    expect(sent).toEqual(['get a\r\n', 'set b 0 0 2\r\nxy\r\n']);
    const replies = 'VALUE a 0 7\r\nEN\r\nD\r\n\r\nEND\r\nSTORED\r\nEND\r\nVALUE x 0 1\r\nz\r\nEND\r\n';
    for (const ch of replies) feed(ch);
    expect(got).toEqual(['hit', 'stored', 'miss', 'error']);
    expect(sent).toEqual(['get a\r\n', 'set b 0 0 2\r\nxy\r\n', 'get c\r\n', 'get d\r\n']);
    // the rest of d's reply ("z", "END") has no request left to answer
    expect(c.protocolErrors).toBeGreaterThanOrEqual(1);
    expect(c.outstanding).toBe(0);
  });

  it('error lines end the request they answer', () => {
    const { sock, feed } = fakeSocket();
    const c = new MemcachedConnection(sock);
    const got: MemcachedReply[] = [];
    c.set('k', new Uint8Array(3), (r) => got.push(r));
    c.get('k', (r) => got.push(r));
    feed('SERVER_ERROR out of memory storing object\r\nCLIENT_ERROR bad command line format\r\n');
    expect(got).toEqual(['error', 'error']);
    expect(c.protocolErrors).toBe(0);
  });
});

describe.runIf(existsSync(KV))('kvserver on a simulated Linux machine under open-loop load', () => {
  it('answers every request, every GET finds its key (all were SET first), and the same run gives the same figures', () => {
    const run = () => {
      const rig = new MemcachedRig({ profile: 'dune-e3-1230v2', server: KV, cpus: 1, workload: USR, connections: 8, records: 40 });
      return rig.measure(20_000, 0.004);
    };
    const a = run();
    expect(a.issued).toBeGreaterThan(50);
    expect(a.completed).toBe(a.issued);
    expect(a.errors).toBe(0);
    expect(a.misses).toBe(0);
    expect(a.hits).toBeGreaterThan(0.9 * a.completed);
    // a request and its reply: two frames on the wire, two 0.5 µs wires, a read and a write on the server
    expect(a.p50Us).toBeGreaterThan(2 * 0.5);
    expect(a.perRequest.syscalls!).toBeGreaterThanOrEqual(2);
    expect(meetsSla(a, 500)).toBe(true);
    const b = run();
    expect(b.p99Us).toBe(a.p99Us);
    expect(b.achievedPerSecond).toBe(a.achievedPerSecond);
  });

  it('a client that resets in the middle of a SET, and one that sends garbage, leave the server serving the others', () => {
    const rig = new MemcachedRig({ profile: 'dune-e3-1230v2', server: KV, cpus: 1, workload: USR, connections: 4, records: 20 });
    const raw = (): TcpSocket => rawMemcachedConnection(rig);
    const half = raw();
    half.send(new TextEncoder().encode('set k 0 0 100\r\nabc'));
    rig.cluster.run(rig.cluster.events.now + 1e8);
    half.abort();
    const junk = raw();
    junk.send(new TextEncoder().encode('bogus\r\nset k 0 0 x\r\nget\r\n'));
    rig.cluster.run(rig.cluster.events.now + 1e9);
    const buf = new Uint8Array(256);
    const n = junk.recv(buf);
    expect(new TextDecoder().decode(buf.subarray(0, Math.max(0, n)))).toBe('ERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n');
    const p = rig.measure(20_000, 0.002);
    expect(p.completed).toBe(p.issued);
    expect(p.errors).toBe(0);
    expect(rig.server.output).not.toMatch(/kvserver: .*:/);
  });

  it('answers bigger than the socket buffers: the server waits for EPOLLOUT and sends every byte, in order', () => {
    const rig = new MemcachedRig({ profile: 'dune-e3-1230v2', server: KV, cpus: 1, workload: USR, connections: 1, records: 1 });
    const s = rig.client.stack.tcpSocket();
    s.connect(SERVER_ADDR, 11211);
    rig.cluster.run(rig.cluster.events.now + 1e9);
    const value = new Uint8Array(300_000).map((_, i) => 0x41 + (i % 23));
    const enc = new TextEncoder();
    const cat = (...parts: Uint8Array[]): Uint8Array => {
      const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    // a 300 kB SET, then 8 GETs of it pipelined: 2.4 MB of answers to a client that reads slowly
    const tx = cat(enc.encode('set big 3 0 300000\r\n'), value, enc.encode('\r\n'), enc.encode('get big\r\n'.repeat(8)));
    const one = cat(enc.encode('VALUE big 3 300000\r\n'), value, enc.encode('\r\nEND\r\n'));
    const want = cat(enc.encode('STORED\r\n'), ...Array.from({ length: 8 }, () => one));
    const rx = exchange(rig.cluster, s, tx, want.length);
    expect(rx.length).toBe(want.length);
    expect(Buffer.from(rx).equals(Buffer.from(want))).toBe(true);
    expect(rig.server.output).not.toMatch(/kvserver: .*:/);
  });
});
