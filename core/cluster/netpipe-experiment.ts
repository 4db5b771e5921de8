import { IX_TESTBED_PATH } from './testbed-path.js';
import type { LlcGeometry } from '../vtx/last-level-cache.js';
import { XEON_E5_2665_LLC } from './ix-server-llc.js';
import type { ProfileFile } from '../vtx/cost-model.js';
import { Cluster, describeStall } from './cluster.js';
import { LinuxGuestNode } from './linux-guest-node.js';

const SERVER_ADDR = '10.0.0.1';
const PORT = 7;
/** The path between the two ports: the IX testbed's cables and switch (and the cluster's lookahead). */
const WIRE = IX_TESTBED_PATH;

export interface NetpipeOptions {
  readonly profile: string | ProfileFile;
  /** The server's last-level cache proxy (default: the IX paper's server, XEON_E5_2665_LLC; null: none). */
  readonly llc?: LlcGeometry | null;
  /** examples/guest/echoserver: the server, and with -c the client. */
  readonly echoserver: string;
  readonly messageBytes: number;
  /** Two numbers of round trips; the latency is the difference of the runs over the difference of round trips. */
  readonly roundTrips: readonly [number, number];
  /** EITR of both machines' queues (ixgbe's setting; default IXGBE_100K_ITR). */
  readonly itr?: number;
}

export interface NetpipeResult {
  /** Half a round trip, in microseconds: NetPIPE's one-way latency. */
  readonly oneWayUs: number;
  /** Per round trip, on the client machine: interrupts, system calls, context switches. */
  readonly perRoundTrip: Record<string, number>;
  readonly output: string;
}

/**
 * NetPIPE's ping-pong between two simulated Linux machines (IX Fig. 2 runs the same OS at both
 * ends): examples/guest/echoserver serves on one, `echoserver -c` on the other sends a message,
 * waits for its echo, and sends the next. The client's exit time is taken for two numbers of
 * round trips; their difference removes the connection's set-up and tear-down.
 */
export function runNetpipe(o: NetpipeOptions): NetpipeResult {
  const runs = o.roundTrips.map((n) => once(o, n));
  const [a, b] = runs as [ReturnType<typeof once>, ReturnType<typeof once>];
  const rounds = o.roundTrips[1] - o.roundTrips[0];
  const perRoundTrip: Record<string, number> = {};
  for (const k of Object.keys(a.counts)) perRoundTrip[k] = (b.counts[k]! - a.counts[k]!) / rounds;
  return { oneWayUs: (b.exitSeconds - a.exitSeconds) / rounds / 2 * 1e6, perRoundTrip, output: a.output + b.output };
}

function once(o: NetpipeOptions, rounds: number): { exitSeconds: number; counts: Record<string, number>; output: string } {
  const cluster = new Cluster();
  const llc = o.llc === undefined ? XEON_E5_2665_LLC : o.llc;
  const mac = (n: number): Uint8Array => Uint8Array.from([0, 0x1b, 0x21, 0, 0, n]);
  const server = new LinuxGuestNode(cluster, 'server', { profile: o.profile, cpus: 1, mac: mac(1), address: 0x0a00_0001, prefixLength: 24, itr: o.itr, llc });
  const client = new LinuxGuestNode(cluster, 'client', { profile: o.profile, cpus: 1, mac: mac(2), address: 0x0a00_0002, prefixLength: 24, itr: o.itr, llc });
  cluster.connect(server.nic, client.nic, WIRE);
  server.spawn(o.echoserver, [String(PORT), '1', String(o.messageBytes), '1']);
  const proc = client.spawn(o.echoserver, ['-c', SERVER_ADDR, String(PORT), String(o.messageBytes), String(rounds)]);
  let exitCycles = NaN;
  let counts: Record<string, number> = {};
  client.kernel.onProcessExit = (p) => {
    if (p !== proc) return;
    exitCycles = Math.max(...client.machine.cpus.map((c) => c.cycles));
    const s = client.machine.stats;
    counts = { deviceIrqs: s.get('linux.deviceIrqs'), syscalls: s.get('linux.syscalls'), contextSwitches: s.get('linux.contextSwitches') };
  };
  server.start();
  client.start();
  for (let guard = 0; Number.isNaN(exitCycles); guard++) {
    const end = cluster.run(cluster.events.now + 1e10);
    if (end.reason === 'stalled') throw new Error(describeStall(end));
    if (guard > 10_000) throw new Error('netpipe: the client did not finish');
  }
  if (!client.output.includes(`round trips ${rounds} bad echoes 0`)) throw new Error(`netpipe client: ${client.output.trim()}`);
  return { exitSeconds: exitCycles / client.machine.costs.clockHz, counts, output: client.output };
}
