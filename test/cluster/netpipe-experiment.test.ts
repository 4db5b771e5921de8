/**
 * NetPIPE between two simulated Linux machines: examples/guest/echoserver serves, `echoserver -c`
 * ping-pongs 64-byte messages, both over --net sim sockets on their 82599 ports and ixgbe.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { runNetpipe } from '../../core/cluster/netpipe-experiment.js';

const ECHO = join(GUEST_BIN, 'echoserver');
/** A 142-byte frame at 10 Gb/s plus the testbed's 0.83 µs path: the least a one-way trip can take. */
const WIRE_US = 0.1136 + 0.83;

describe.runIf(existsSync(ECHO))('NetPIPE, Linux to Linux', () => {
  it('every round trip is one request and one echo: two interrupts and two system calls on the client; the same every run', () => {
    const run = (itr: number) => runNetpipe({ profile: 'dune-e3-1230v2', echoserver: ECHO, messageBytes: 64, roundTrips: [5, 15], itr });
    const free = run(0);
    expect(free.perRoundTrip.syscalls).toBe(2); // write, read
    expect(free.perRoundTrip.deviceIrqs).toBe(2); // the echo's arrival, the request's transmit done
    expect(free.oneWayUs).toBeGreaterThan(WIRE_US);
    expect(run(0).oneWayUs).toBe(free.oneWayUs);
    // EITR 200 (interval 25 × 2.048 = 51.2 µs, longer than a free round trip): the transmit-done interrupt opens an
    // interval the echo's interrupt must wait out, so a round trip takes at least two intervals.
    const moderated = run(200);
    expect(moderated.oneWayUs).toBeGreaterThanOrEqual(51.2 - 1e-6);
    expect(moderated.oneWayUs).toBeGreaterThan(free.oneWayUs + 10);
  });
});
