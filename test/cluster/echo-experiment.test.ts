/**
 * The echo experiment of IX Fig. 3 with a Linux server: examples/guest/echoserver on a simulated
 * Linux machine (82599, ixgbe, the kernel's TCP/IP stack under its sockets) and a modelled client
 * host whose ClosedLoopClients drive it over the simulated 10 GbE wire.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { runEchoExperiment } from '../../core/cluster/echo-experiment.js';

const ECHO = join(GUEST_BIN, 'echoserver');

describe.runIf(existsSync(ECHO))('echo server on a simulated Linux machine, clients on a modelled host', () => {
  it('every message comes back over kept connections; the server sees them all and exits; the same figures every run', () => {
    const run = () => runEchoExperiment({ profile: 'dune-e3-1230v2', server: ECHO, cpus: 1, connections: 4, roundTrips: 20, messageBytes: 64 });
    const a = run();
    expect(a.completed).toBe(80);
    expect(a.serverOutput).toContain('connections 4 echoed 5120 bytes');
    expect(a.retransmits).toBe(0);
    // Each message is a read and a write on the server at least, and frames went through its NIC's interrupts.
    expect(a.perMessage.syscalls!).toBeGreaterThanOrEqual(2);
    expect(a.perMessage.deviceIrqs!).toBeGreaterThan(0);
    // A round trip is at least two 142-byte frames on the wire and two propagation delays.
    expect(a.p50Ns).toBeGreaterThan(2 * (113.6 + 500));
    const b = run();
    expect(b.messagesPerSecond).toBe(a.messagesPerSecond);
    expect(b.p99Ns).toBe(a.p99Ns);
  });

  it('a new connection every 2 messages, closed by the client with a reset: the server accepts and closes each', () => {
    const r = runEchoExperiment({ profile: 'dune-e3-1230v2', server: ECHO, cpus: 1, connections: 4, roundTrips: 10, messageBytes: 64, perConnection: 2 });
    expect(r.completed).toBe(40);
    expect(r.serverOutput).toContain('connections 20 echoed 2560 bytes');
  });
});
