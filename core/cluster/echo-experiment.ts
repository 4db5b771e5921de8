import { IX_TESTBED_PATH } from './testbed-path.js';
import type { LlcGeometry } from '../vtx/last-level-cache.js';
import { XEON_E5_2665_LLC } from './ix-server-llc.js';
import type { ProfileFile } from '../vtx/cost-model.js';
import { Cluster, describeStall } from './cluster.js';
import { EchoClients } from './echo-clients.js';
import { LinuxGuestNode } from './linux-guest-node.js';
import { ModelledHost } from './modelled-host.js';
import { ringCycles } from '../vtx/cpu-mode.js';

export const SERVER_ADDR = 0x0a00_0001; // 10.0.0.1
export const CLIENT_ADDR = 0x0a00_0002; // 10.0.0.2
const ECHO_PORT = 7;
/** The path to the client: the IX testbed's cables and cut-through switch (and the cluster's lookahead). */
export const WIRE = IX_TESTBED_PATH;
/** Connections a client opens at once after the first (below the listener's backlog and the ARP queue). */

export interface EchoExperimentOptions {
  readonly profile: string | ProfileFile;
  /** The server's last-level cache proxy (default: the IX paper's server, XEON_E5_2665_LLC; null: none). */
  readonly llc?: LlcGeometry | null;
  /** The examples/guest/echoserver binary. */
  readonly server: string;
  /** CPUs of the server machine. */
  readonly cpus: number;
  /** The server's event loops (threads); one per CPU by default. */
  readonly threads?: number;
  readonly connections: number;
  /** Messages per connection, each echoed before the next is sent. */
  readonly roundTrips: number;
  readonly messageBytes: number;
  /** Round trips before the measured window (a warm-up pass); default 0. */
  readonly warmupRoundTrips?: number;
  /** Client threads cycling over the connections, one message in flight each (Fig. 4); default one per connection. */
  readonly clientThreads?: number;
  /** Round trips on one connection before the client resets it and opens another (Fig. 3's n; default: one connection throughout). */
  readonly perConnection?: number;
  /** EITR of the server's queues (ixgbe's setting; default IXGBE_100K_ITR). */
  readonly itr?: number;
}

export interface EchoExperimentResult {
  /** Round trips per second until 90 % of them were done (cluster time). */
  readonly messagesPerSecond: number;
  /** Round trips per second until the last one. */
  readonly wholeRunMessagesPerSecond: number;
  readonly completed: number;
  /** Round-trip latency percentiles in nanoseconds (the histogram's bucket edges). */
  readonly p50Ns: number;
  readonly meanNs: number;
  readonly p99Ns: number;
  /** The server's work, per message: interrupts, NAPI polls, system calls, context switches. */
  readonly perMessage: Record<string, number>;
  /** What the server printed. */
  readonly serverOutput: string;
  readonly retransmits: number;
  /** Frames that reached the server with its clock already past their arrival (Cluster.lateArrivals), and the worst lag in cycles. */
  readonly lateArrivals: number;
  readonly maxLateCycles: number;
}

/**
 * The IX paper's echo experiment (Fig. 3) with a Linux server: examples/guest/echoserver on a
 * simulated Linux machine (its 82599 port, ixgbe, the kernel's TCP/IP stack under guest sockets)
 * and a modelled client host running ClosedLoopClients over its own stack. The connections are
 * opened first; the measured phase is the closed loop; then the clients close, and the server,
 * which exits after that many connections, ends the run.
 */
export function runEchoExperiment(o: EchoExperimentOptions): EchoExperimentResult {
  const cluster = new Cluster();
  const server = new LinuxGuestNode(cluster, 'server', {
    profile: o.profile, cpus: o.cpus, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]),
    address: SERVER_ADDR, prefixLength: 24, itr: o.itr, llc: o.llc === undefined ? XEON_E5_2665_LLC : o.llc,
  });
  const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), CLIENT_ADDR, 24, 2);
  cluster.connectHost(server.nic, client, WIRE);
  const clients = new EchoClients(cluster, client, { ...o, address: SERVER_ADDR, port: ECHO_PORT }, () => snapshot(server));
  const total = clients.plannedConnections;
  const proc = server.spawn(o.server, [String(ECHO_PORT), String(o.threads ?? o.cpus), String(o.messageBytes), String(total)]);
  server.start();
  // Let the server reach epoll_wait before the first SYN.
  cluster.run(cluster.events.now + 1e9);
  // With connections kept for the whole run, they are opened before the measurement starts.
  if (clients.kept) clients.openPaced('echo clients');
  const before = snapshot(server);
  clients.start();
  for (let guard = 0; !clients.finished; guard++) {
    const end = cluster.run(cluster.events.now + 1e10);
    if (end.reason === 'stalled') throw new Error(describeStall(end));
    if (guard > 100_000) throw new Error('echo experiment: the closed loop did not finish');
  }
  clients.abortAll();
  for (let t = 0; t < 50 && !proc.zombie; t++) cluster.run(cluster.events.now + 1e10);
  if (clients.opened !== total) throw new Error(`echo experiment: ${clients.opened} connections opened, ${total} planned`);
  const loop = clients.loop;
  const perMessage: Record<string, number> = {};
  const from = clients.atWarm ?? before;
  for (const k of Object.keys(before)) perMessage[k] = (clients.atMark![k]! - from[k]!) / (clients.mark - clients.warm);
  return {
    messagesPerSecond: clients.messagesPerSecond,
    wholeRunMessagesPerSecond: loop.throughput(),
    completed: loop.completed,
    p50Ns: loop.latency.percentile(50) / 1000,
    meanNs: loop.latency.mean() / 1000,
    p99Ns: loop.latency.percentile(99) / 1000,
    perMessage,
    serverOutput: server.output,
    retransmits: client.stack.counters.Tcp.RetransSegs + server.kernel.simNet.stack.counters.Tcp.RetransSegs,
    lateArrivals: cluster.lateArrivals,
    maxLateCycles: cluster.maxLateCycles,
  };
}

function snapshot(n: LinuxGuestNode): Record<string, number> {
  const s = n.machine.stats;
  return {
    deviceIrqs: s.get('linux.deviceIrqs'),
    syscalls: s.get('linux.syscalls'),
    contextSwitches: s.get('linux.contextSwitches'),
    napiPolls: s.get('linux.net.napiPolls'),
    ...ringCycles(s),
    llcMisses: s.get('llc.misses'),
  };
}
