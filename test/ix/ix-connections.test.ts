import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IX_BIN } from '../../plugins/ix-dataplane/ix-bench-suite.js';
import { ECHO_IX_MAX_CONNS, runIxEcho } from '../../plugins/ix-dataplane/ix-experiments.js';
import { ElasticThread } from '../../plugins/ix-dataplane/elastic-thread.js';
import { REGION, USYS_TCP_SENT } from '../../plugins/ix-dataplane/ix-abi.js';
import { IxNode } from '../../plugins/ix-dataplane/ix-node.js';
import { Cluster } from '../../core/cluster/cluster.js';
import type { LlcGeometry } from '../../core/vtx/last-level-cache.js';

const PROFILE = 'dune-e3-1230v2';
const ECHO_IX = join(IX_BIN, 'echo-ix');

// The dataplane's private paths, wrapped to watch the order of what it does.
type Hooks = {
  readUserBytes(va: number, len: number, off: number): void;
  recvDone(handle: number, len: number): number;
  event(type: number, handle: number, cookie: number, a: number, b: number): void;
};
const proto = ElasticThread.prototype as unknown as Hooks;
const original = { readUserBytes: proto.readUserBytes, recvDone: proto.recvDone, event: proto.event };
afterEach(() => Object.assign(proto, original));

describe('IX connection scaling', () => {
  it('holds 3,000 connections open on one core (more than the 2,048 of the old table), every one accepted, none refused', () => {
    const e = runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 3000, clientThreads: 16, roundTrips: 4, messageBytes: 64, llc: null });
    expect(e.completed).toBe(64);
    expect(e.threads[0]!.counters.flowsRefused).toBe(0);
    expect(e.serverOutput).not.toContain('table full');
    // The server ends only when all 3,000 connections it accepted have ended.
    expect(e.serverOutput).toContain('echo-ix: messages 64');
    expect(e.mbufsHeld).toBe(0);
  }, 120_000);

  it('refuses a table past its limit with a clear error', () => {
    expect(() => runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: ECHO_IX_MAX_CONNS + 1, roundTrips: 1, messageBytes: 64 })).toThrow(/echo-ix holds 1 to 65536/);
    expect(() => new IxNode(new Cluster(), 's', { profile: PROFILE, mac: Uint8Array.of(0, 1, 2, 3, 4, 5), address: 0x0a00_0001, port: 7, maxFlows: 70_000 })).toThrow(/flow table of 70000 flows/);
  });

  it('echo-ix -m echoes zero copy: sends from the received mbuf, gives it back (recv_done) only after the peer acknowledged the echo, leaks none', () => {
    const fromMbufs: boolean[] = [];
    const given = new Map<number, number>();
    const acked = new Map<number, number>();
    let early = 0;
    proto.readUserBytes = function (this: ElasticThread, va, len, off) {
      fromMbufs.push(va >= this.regionVa + REGION.mbufs && va + len <= this.regionVa + REGION.size);
      return original.readUserBytes.call(this, va, len, off);
    };
    proto.event = function (this: ElasticThread, type, handle, cookie, a, b) {
      if (type === USYS_TCP_SENT) acked.set(handle, (acked.get(handle) ?? 0) + a);
      return original.event.call(this, type, handle, cookie, a, b);
    };
    proto.recvDone = function (this: ElasticThread, handle, len) {
      const total = (given.get(handle) ?? 0) + len;
      given.set(handle, total);
      // An echo gives back what it received only once as many bytes of its echo are acknowledged.
      if (total > (acked.get(handle) ?? 0)) early++;
      return original.recvDone.call(this, handle, len);
    };
    const e = runIxEcho({ profile: PROFILE, echoIx: ECHO_IX, connections: 8, roundTrips: 16, messageBytes: 64, fromMbuf: true });
    expect(e.completed).toBe(128);
    expect(fromMbufs.length).toBeGreaterThanOrEqual(128);
    expect(fromMbufs.every((x) => x)).toBe(true);
    expect([...given.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(early).toBe(0);
    expect(e.mbufsHeld).toBe(0);
  }, 60_000);

  it('L3 misses per message stay flat while the flows fit the cache and rise once they do not', () => {
    // A small cache (128 sets × 20 ways × 64 B = 160 KB, 2,560 lines) so that a thousand flows of
    // four lines a message overflow it, while 256 fit beside the rings and buffers.
    const llc: LlcGeometry = { bytes: 128 * 20 * 64, ways: 20, lineBytes: 64, missNs: 80, ddioWays: 2, source: 'test' };
    const at = (connections: number): number => runIxEcho({
      profile: PROFILE, echoIx: ECHO_IX, connections, clientThreads: 16, messageBytes: 64, llc,
      roundTrips: Math.max(64, Math.ceil((2 * connections) / 16)), warmupRoundTrips: connections,
    }).perMessage.llcMissesPerMessage;
    const small = at(64);
    const fits = at(256);
    const over = at(1024);
    expect(Math.abs(fits - small)).toBeLessThan(0.2);
    expect(over).toBeGreaterThan(fits + 2);
  }, 120_000);
});
