/**
 * The last-level cache proxy under the echo experiment (IX Fig. 4's mechanism): while every
 * connection's kernel state fits in the cache a message costs almost no misses; once the
 * connections' state exceeds it, each message misses on its connection's lines; DDIO keeps
 * received frames out of the misses. Client threads cycle over persistent connections.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { runEchoExperiment, EchoExperimentOptions } from '../../core/cluster/echo-experiment.js';
import { XEON_E5_2665_LLC } from '../../core/cluster/ix-server-llc.js';

const ECHO = join(GUEST_BIN, 'echoserver');
/** 128 KB, 20 ways: room for the rings' lines and a few dozen connections, not for hundreds. */
const SMALL_LLC = { ...XEON_E5_2665_LLC, bytes: 20 * 64 * 100 };

function run(connections: number, llc = SMALL_LLC as EchoExperimentOptions['llc']) {
  return runEchoExperiment({
    profile: 'dune-e3-1230v2', server: ECHO, cpus: 1, messageBytes: 64, connections, clientThreads: 8, llc,
    roundTrips: Math.max(32, Math.ceil((2 * connections) / 8)), warmupRoundTrips: connections,
  });
}

describe.runIf(existsSync(ECHO))('last-level cache proxy under the echo experiment', () => {
  it('few connections fit and barely miss; many exceed the cache, miss on every message and serve fewer messages', () => {
    const few = run(16);
    const many = run(320);
    expect(few.perMessage.llcMisses!).toBeLessThan(1);
    // A message touches about 20 lines of its connection's tcp_sock, socket, file and epitem.
    expect(many.perMessage.llcMisses!).toBeGreaterThan(10);
    expect(many.messagesPerSecond).toBeLessThan(few.messagesPerSecond);
    // The misses are the memory's, not more work: the same system calls per message.
    expect(Math.abs(many.perMessage.syscalls! - few.perMessage.syscalls!)).toBeLessThan(0.05);
    expect(many.retransmits).toBe(0);
  });

  it('without DDIO each received frame misses; with it, not', () => {
    const ddio = run(16);
    const none = run(16, { ...SMALL_LLC, ddioWays: 0 });
    // A 64-byte echo arrives as a 130-byte frame (3 lines) and a descriptor write-back.
    expect(none.perMessage.llcMisses! - ddio.perMessage.llcMisses!).toBeGreaterThan(2);
  });

  it('the same run gives the same misses and throughput', () => {
    const a = run(64);
    const b = run(64);
    expect(b.perMessage.llcMisses).toBe(a.perMessage.llcMisses);
    expect(b.messagesPerSecond).toBe(a.messagesPerSecond);
  });
});
