import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../core/cluster/cluster.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { IX_BIN } from '../../plugins/ix-dataplane/ix-bench-suite.js';
import { runIxEcho, runIxNetpipe } from '../../plugins/ix-dataplane/ix-experiments.js';
import { IxNode } from '../../plugins/ix-dataplane/ix-node.js';

const PROFILE = 'dune-e3-1230v2';
const ECHO_IX = join(IX_BIN, 'echo-ix');
const HOSTILE_IX = join(IX_BIN, 'hostile-ix');

/** hostile-ix in `mode` on an IX node, and one client connection to it, established (Nagle off). */
function hostileWithClient(mode: string) {
  const cluster = new Cluster();
  const server = new IxNode(cluster, 'server', { profile: PROFILE, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: 0x0a00_0001, port: 7 });
  const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), 0x0a00_0002, 24, 2);
  cluster.connectHost(server.nic, client, 0.5e-6);
  const proc = server.spawn(HOSTILE_IX, [mode]);
  server.start();
  for (let i = 0; i < 200 && server.setup.threads.length === 0; i++) cluster.run(cluster.events.now + 1e9);
  const s = client.stack.tcpSocket();
  s.noDelay = true;
  expect(s.connect(0x0a00_0001, 7)).toBe(-EINPROGRESS);
  for (let i = 0; i < 100 && s.state !== TCP_ESTABLISHED; i++) cluster.run(cluster.events.now + 1e8);
  return { cluster, server, proc, s, t: server.setup.threads[0]! };
}

describe('the IX dataplane', () => {
  it('echoes for a ring-3 application from guest ring 0: polled, batched, no interrupts, no mbuf leaked, deterministic', () => {
    const run = () => runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 8, roundTrips: 16, messageBytes: 64 });
    const e = run();
    expect(e.completed).toBe(8 * 16);
    expect(e.serverOutput).toContain('echo-ix: messages 128');
    const m = e.perMessage;
    expect(m.interruptsPerMessage).toBe(0); // the queue's interrupt stays masked
    expect(m.vmExitsPerMessage).toBeLessThan(0.1); // only the host's timer ticks
    expect(m.crossingsPerMessage).toBeLessThan(1); // one SYSCALL serves a batch of messages
    expect(m.packetsPerBatch).toBeGreaterThan(1);
    expect(m.maxRxBatch).toBeLessThanOrEqual(64);
    // Every mbuf is back: in the pool or on the RX ring.
    expect(e.mbufsHeld).toBe(0);
    expect(run().messagesPerSecond).toBe(e.messagesPerSecond);
  }, 60_000);

  it('takes at most B packets per pass of its loop', () => {
    const e = runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 8, roundTrips: 8, messageBytes: 64, batch: 2 });
    expect(e.completed).toBe(64);
    expect(e.perMessage.maxRxBatch).toBe(2);
  }, 60_000);

  it('serves connections that clients reset after each message, and more messages than the send ring holds', () => {
    const churn = runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 4, roundTrips: 8, messageBytes: 64, perConnection: 1 });
    expect(churn.completed).toBe(32);
    expect(churn.serverOutput).toContain('echo-ix: messages 32');
    expect(churn.mbufsHeld).toBe(0);
    // 300 × 64 bytes is more than ixev's 16 KiB ring: acknowledged bytes make room (sent events).
    const long = runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 1, roundTrips: 300, messageBytes: 64 });
    expect(long.completed).toBe(300);
    expect(long.mbufsHeld).toBe(0);
  }, 60_000);

  it('NetPIPE between two IX machines: a round trip is two SYSCALL crossings per side, no VM exit', () => {
    const np = runIxNetpipe({ profile: PROFILE, echoIx: ECHO_IX, messageBytes: 64, roundTrips: [4, 12] });
    // At least the wire: two 142-byte frames' serialisation at 10 Gb/s and 0.5 µs of propagation each way.
    expect(np.oneWayUs).toBeGreaterThan(0.5 + 142 * 8 / 10e9 * 1e6);
    expect(np.oneWayUs).toBeLessThan(5);
    expect(np.perRoundTrip.crossingsPerMessage).toBe(2);
    expect(np.perRoundTrip.vmExitsPerMessage).toBeLessThan(0.1);
    expect(np.perRoundTrip.interruptsPerMessage).toBe(0);
  }, 60_000);
});

describe('a hostile IX application', () => {
  it('gets errors for bad arrays, pointers, handles and lengths, faults for touching dataplane memory, and the dataplane goes on serving', () => {
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: PROFILE, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: 0x0a00_0001, port: 7 });
    const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), 0x0a00_0002, 24, 2);
    cluster.connectHost(server.nic, client, 0.5e-6);
    const proc = server.spawn(HOSTILE_IX, []);
    server.start();
    for (let i = 0; i < 200 && !server.output.includes('ring-3 read'); i++) cluster.run(cluster.events.now + 1e9);
    const s = client.stack.tcpSocket();
    s.noDelay = true;
    const got: number[] = [];
    const buf = new Uint8Array(256);
    s.onWake = () => {
      for (;;) {
        const k = s.recv(buf);
        if (k <= 0) break;
        got.push(...buf.subarray(0, k));
      }
    };
    expect(s.connect(0x0a00_0001, 7)).toBe(-EINPROGRESS);
    for (let i = 0; i < 100 && s.state !== TCP_ESTABLISHED; i++) cluster.run(cluster.events.now + 1e8);
    expect(s.stateName, server.output).toBe('ESTABLISHED');
    const msg = Uint8Array.from({ length: 64 }, (_, i) => i);
    expect(s.send(msg)).toBe(64);
    for (let i = 0; i < 200 && !proc.zombie; i++) cluster.run(cluster.events.now + 1e9);
    const out = server.output;
    expect(proc.zombie, out).toBe(true);
    expect(proc.waitStatus, out).toBe(0);
    expect(out).toContain('ring-3 write to an mbuf: -14');
    expect(out).toContain('ring-3 read of the RX ring: -14');
    expect(out).toContain('batch array in dataplane memory: -5'); // RET_FAULT
    expect(out).toContain('batch array in the read-only event array: -5');
    expect(out).toContain('batch array unmapped: -5');
    expect(out).toContain('batch longer than allowed: -3'); // RET_INVAL
    expect(out).toContain('batch of negative length: -3');
    expect(out).toContain('unknown call: -6'); // RET_NOSYS
    expect(out).toContain('sendv on a bad handle: -8'); // RET_BADH
    expect(out).toContain('recv_done on a bad handle: -8');
    expect(out).toContain('accept: 0');
    expect(out).toContain('accept again: -8');
    expect(out).toContain('payload is in the mbuf region: 1');
    expect(out).toContain('sendv with the list in dataplane memory: -5');
    expect(out).toContain('sendv of a buffer in dataplane memory: -5');
    expect(out).toContain('sendv of an unmapped buffer: -5');
    expect(out).toContain('sendv of 31 entries: -3');
    expect(out).toContain('recv_done beyond what arrived: -3');
    expect(out).toContain('sendv from the mbuf: 64');
    expect(out).toContain('recv_done: 0');
    expect(out).toContain('bytes acknowledged: 64');
    expect(out).toContain('close: 0');
    expect(out).toContain('close again: -8');
    expect(out).toContain('attacks: 0, faults 2');
    // The echo came back whole, from the mbuf it arrived in.
    expect(got).toEqual([...msg]);
    const t = server.setup.threads[0]!;
    expect(t.counters.badBatches).toBe(5);
    // No mbuf leaked: the pool holds all but those on the RX ring (frames taken and not yet replaced come back to it).
    expect(t.mbufsHeld).toBe(0);
  }, 60_000);

  it('cannot ask for the set-up hypercall from ring 3: the Dune module refuses the VMCALL and the process ends', () => {
    const cluster = new Cluster();
    const server = new IxNode(cluster, 'server', { profile: PROFILE, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]), address: 0x0a00_0001, port: 7 });
    cluster.connectHost(server.nic, new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), 0x0a00_0002, 24, 2), 0.5e-6);
    const proc = server.spawn(HOSTILE_IX, ['vmcall']);
    server.start();
    for (let i = 0; i < 200 && !proc.zombie; i++) cluster.run(cluster.events.now + 1e9);
    expect(proc.zombie).toBe(true);
    expect(server.output).toMatch(/VMCALL from guest ring 3 .* refused/);
    expect(server.output).not.toContain('returned');
    expect(server.setup.setups).toBe(1); // its own, from ring 0
  }, 60_000);

  it('never calls recv_done: its mbufs stay held while it lives and all come back when it closes', () => {
    const { cluster, server, proc, s, t } = hostileWithClient('hoard');
    for (let k = 0; k < 100; k++) {
      expect(s.send(new Uint8Array(64).fill(k))).toBe(64);
      cluster.run(cluster.events.now + 2e6);
    }
    // 100 segments, each in its own mbuf, all still held by the application.
    expect(t.mbufsHeld).toBe(100);
    s.close();
    for (let i = 0; i < 200 && !proc.zombie; i++) cluster.run(cluster.events.now + 1e9);
    expect(server.output).toContain('hoarded recv events: 100');
    expect(server.output).toContain('hoarded bytes: 6400');
    expect(server.output).toContain('close: 0');
    expect(t.mbufsHeld).toBe(0);
  }, 60_000);

  it('never reads through ixev: once more segments wait than its receive ring holds (128), ixev closes the connection and says so, and every mbuf comes back', () => {
    const { cluster, server, proc, s, t } = hostileWithClient('deaf');
    // 128 small segments fill the ring and are held, unread; the 129th closes the connection.
    for (let k = 0; k < 128; k++) {
      expect(s.send(new Uint8Array(16).fill(k))).toBe(16);
      cluster.run(cluster.events.now + 2e6);
    }
    expect(t.mbufsHeld).toBe(128);
    expect(s.state).toBe(TCP_ESTABLISHED);
    expect(s.send(new Uint8Array(16).fill(128))).toBe(16);
    for (let i = 0; i < 200 && !proc.zombie; i++) cluster.run(cluster.events.now + 1e9);
    expect(server.output).toContain('deaf: hangup with unread segments: 128');
    expect(server.output).toContain('deaf: released 1');
    expect(s.state).not.toBe(TCP_ESTABLISHED); // the server's FIN (or reset) reached the client
    expect(t.mbufsHeld).toBe(0);
  }, 60_000);
});
