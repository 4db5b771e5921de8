import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../core/cluster/cluster.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import * as R from '../../core/vtx/devices/nic-registers.js';
import { RssRedirection } from '../../core/vtx/devices/rss-redirection.js';
import { MICROSOFT_RSS_KEY, ToeplitzHash } from '../../core/vtx/devices/toeplitz-hash.js';
import { EPHEMERAL_FIRST, ElasticThread } from '../../plugins/ix-dataplane/elastic-thread.js';
import { IX_BIN } from '../../plugins/ix-dataplane/ix-bench-suite.js';
import { runIxEcho } from '../../plugins/ix-dataplane/ix-experiments.js';
import { crossing } from '../../plugins/ix-dataplane/ix-figure-series.js';
import { IxNode } from '../../plugins/ix-dataplane/ix-node.js';

const PROFILE = 'dune-e3-1230v2';
const ECHO_IX = join(IX_BIN, 'echo-ix');
const SERVER = 0x0a00_0001;
const CLIENT = 0x0a00_0002;
const mac = (n: number): Uint8Array => Uint8Array.from([0, 0x1b, 0x21, 0, 0, n]);

function runUntil(cluster: Cluster, done: () => boolean, steps = 400): void {
  for (let i = 0; i < steps && !done(); i++) cluster.run(cluster.events.now + 1e9);
  expect(done()).toBe(true);
}

/** Records the NIC registers each elastic thread writes from now on (its data path touches its own queue's tails only). */
function recordWrites(threads: readonly ElasticThread[]): Map<ElasticThread, Set<number>> {
  const seen = new Map<ElasticThread, Set<number>>();
  for (const t of threads) {
    const regs = new Set<number>();
    seen.set(t, regs);
    const nic = t.nic;
    const spy = Object.create(nic) as typeof nic;
    spy.write = (reg: number, size: Parameters<typeof nic.write>[1], v: number) => {
      regs.add(reg);
      nic.write(reg, size, v);
    };
    (t as { nic: typeof nic }).nic = spy;
  }
  return seen;
}

describe('the IX dataplane on several cores', () => {
  it('spreads connections over its cores by the RSS hash, each core serving and touching only its own queue pair', () => {
    const cores = 4;
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: PROFILE, mac: mac(1), address: SERVER, port: 7, cores });
    const client = new ModelledHost('client', cluster.events, mac(2), CLIENT, 24, 2);
    cluster.connectHost(server.nic, client, 0.5e-6);
    const conns = 12;
    const proc = server.spawn(ECHO_IX, ['64', String(conns), '0', String(cores)]);
    server.start();
    const threads = server.setup.threads;
    runUntil(cluster, () => threads.length === cores);
    // One queue pair each, and the 128 flow groups dealt round robin.
    expect(threads.map((t) => t.queue)).toEqual([0, 1, 2, 3]);
    for (let g = 0; g < 128; g++) expect(server.setup.flowGroups[g]).toBe(g % cores);
    const writes = recordWrites(threads);
    // Each connection sends one message, reads its echo, and resets.
    const socks: TcpSocket[] = [];
    const echoed = new Array<number>(conns).fill(0);
    const sent = new Array<boolean>(conns).fill(false);
    for (let i = 0; i < conns; i++) {
      const s = client.stack.tcpSocket();
      s.noDelay = true;
      const buf = new Uint8Array(128);
      s.onWake = () => {
        if (s.state === TCP_ESTABLISHED && echoed[i] === 0 && !sent[i]) {
          sent[i] = true;
          s.send(new Uint8Array(64).fill(i));
        }
        for (;;) {
          const k = s.recv(buf);
          if (k <= 0) break;
          echoed[i] += k;
        }
      };
      expect(s.connect(SERVER, 7)).toBe(-EINPROGRESS);
      socks.push(s);
    }
    runUntil(cluster, () => echoed.every((n) => n === 64));
    // The queue of each connection, from its 4-tuple as the server's NIC sees it (the client is the source).
    const rss = new RssRedirection(new ToeplitzHash(MICROSOFT_RSS_KEY), cores);
    const expected = new Array<number>(cores).fill(0);
    for (const s of socks) expected[rss.queueOf(CLIENT, SERVER, s.localPort, 7)]!++;
    expect(expected.filter((n) => n > 0).length).toBeGreaterThan(1); // the hash does spread them
    for (const s of socks) s.abort();
    runUntil(cluster, () => proc.zombie);
    expect(server.output).toContain(`echo-ix: messages ${conns} per thread ${expected.join(' ')}`);
    for (const t of threads) {
      const q = t.queue;
      // What the thread took from its ring is what the NIC put on its queue, and no more.
      expect(t.counters.rxPackets).toBe(server.nic.rx.qprc[q]);
      expect(t.counters.txPackets).toBe(server.nic.tx.qptc[q]);
      for (const reg of writes.get(t)!) expect([R.rdt(q), R.tdt(q)]).toContain(reg);
      expect(t.mbufsHeld).toBe(0);
    }
  }, 60_000);

  it('an outbound connection probes ephemeral ports until the hash lands on the calling core: each of 4 client cores dials on its own queue', () => {
    const cores = 4;
    const rounds = 5;
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: PROFILE, mac: mac(1), address: SERVER, port: 7 });
    const client = new IxNode(cluster, 'client', { profile: PROFILE, mac: mac(2), address: CLIENT, port: 7, cores });
    cluster.connect(server.nic, client.nic, 0.5e-6);
    server.spawn(ECHO_IX, ['64', String(cores)]);
    server.start();
    runUntil(cluster, () => server.setup.threads.length === 1);
    const proc = client.spawn(ECHO_IX, ['-c', '10.0.0.1', '7', '64', String(rounds), String(cores)]);
    client.start();
    runUntil(cluster, () => proc.zombie, 2000);
    expect(client.output).toContain(`echo-ix: round trips ${cores * rounds} per thread ${Array(cores).fill(rounds).join(' ')}`);
    expect(proc.waitStatus).toBe(0);
    // The probes each thread needs, from the hash alone: the first port from the start of the
    // range whose replies (server → client) fall in one of the thread's flow groups.
    const hash = new ToeplitzHash(MICROSOFT_RSS_KEY);
    for (const t of client.setup.threads) {
      let p = EPHEMERAL_FIRST;
      while ((hash.ipv4Tcp(SERVER, CLIENT, 7, p) & 127) % cores !== t.queue) p++;
      expect(t.counters.dials).toBe(1);
      expect(t.counters.dialProbes).toBe(p - EPHEMERAL_FIRST + 1);
      // Every reply came in on this thread's queue: it took them all from its own ring.
      expect(t.counters.rxPackets).toBe(client.nic.rx.qprc[t.queue]);
      expect(t.counters.rxPackets).toBeGreaterThanOrEqual(rounds);
    }
  }, 60_000);

  it('the echo experiment on 2 cores: twice the elastic threads, the same counts per thread, deterministic', () => {
    const run = () => runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 8, roundTrips: 8, messageBytes: 64, cores: 2 });
    const e = run();
    expect(e.completed).toBe(64);
    expect(e.threads.length).toBe(2);
    expect(e.serverOutput).toMatch(/echo-ix: messages 64 per thread \d+ \d+/);
    const per = /per thread (\d+) (\d+)/.exec(e.serverOutput)!;
    expect(Number(per[1]) + Number(per[2])).toBe(64);
    expect(Number(per[1])).toBeGreaterThan(0);
    expect(Number(per[2])).toBeGreaterThan(0);
    expect(e.perMessage.interruptsPerMessage).toBe(0);
    expect(e.mbufsHeld).toBe(0);
    const again = run();
    expect(again.messagesPerSecond).toBe(e.messagesPerSecond);
    expect(again.perMessage).toEqual(e.perMessage);
  }, 60_000);

  it('refuses more elastic threads than the cores the control plane gave (-EBUSY), and the program says so', () => {
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: PROFILE, mac: mac(1), address: SERVER, port: 7, cores: 2 });
    const client = new ModelledHost('client', cluster.events, mac(2), CLIENT, 24, 2);
    cluster.connectHost(server.nic, client, 0.5e-6);
    // Three threads asked for on two cores: the third set-up fails, and echo-ix says so.
    const proc = server.spawn(ECHO_IX, ['64', '1', '0', '3']);
    server.start();
    runUntil(cluster, () => proc.zombie);
    expect(server.setup.threads.length).toBe(2);
    expect(server.output).toContain('elastic thread 2: set-up failed (-16)'); // -EBUSY
    expect(proc.waitStatus).not.toBe(0);
  }, 60_000);
});

describe('the size at which NetPIPE reaches a goodput', () => {
  it('interpolates on a log scale between the sizes measured, and says when it is not reached', () => {
    // 4 Gb/s at 10 KB and 6 Gb/s at 40 KB: 5 Gb/s half-way in log size, at 20 KB.
    expect(crossing([1000, 10_000, 40_000], [1, 4, 6], 5)).toBeCloseTo(20_000, 6);
    expect(crossing([1000, 10_000], [5.5, 7], 5)).toBe(1000);
    expect(crossing([1000, 10_000], [1, 2], 5)).toBeUndefined();
  });
});
