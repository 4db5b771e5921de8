import type { ProfileFile } from '../vtx/cost-model.js';
import type { TcpSocket } from '../net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../net/tcp-state.js';
import { Cluster, describeStall } from './cluster.js';
import { ClosedLoopClients } from './load-generators.js';
import { LinuxGuestNode } from './linux-guest-node.js';
import { ModelledHost } from './modelled-host.js';

export const SERVER_ADDR = 0x0a00_0001; // 10.0.0.1
export const CLIENT_ADDR = 0x0a00_0002; // 10.0.0.2
const ECHO_PORT = 7;
/** One metre of fibre or copper and the PHYs: the cluster's wire delay (and lookahead). */
const WIRE_SECONDS = 0.5e-6;

export interface EchoExperimentOptions {
  readonly profile: string | ProfileFile;
  /** The examples/guest/echoserver binary. */
  readonly server: string;
  /** CPUs of the server machine; the server runs one event loop per CPU. */
  readonly cpus: number;
  readonly connections: number;
  /** Messages per connection, each echoed before the next is sent. */
  readonly roundTrips: number;
  readonly messageBytes: number;
  /** EITR of the server's queues (ixgbe's setting; default IXGBE_100K_ITR). */
  readonly itr?: number;
}

export interface EchoExperimentResult {
  /** Round trips per second over the measured phase (cluster time). */
  readonly messagesPerSecond: number;
  readonly completed: number;
  /** Round-trip latency percentiles in nanoseconds (the histogram's bucket edges). */
  readonly p50Ns: number;
  readonly p99Ns: number;
  /** The server's work, per message: interrupts, NAPI polls, system calls, context switches. */
  readonly perMessage: Record<string, number>;
  /** What the server printed. */
  readonly serverOutput: string;
  readonly retransmits: number;
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
    address: SERVER_ADDR, prefixLength: 24, itr: o.itr,
  });
  const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), CLIENT_ADDR, 24, 2);
  cluster.connectHost(server.nic, client, WIRE_SECONDS);
  const proc = server.spawn(o.server, [String(ECHO_PORT), String(o.cpus), String(o.messageBytes), String(o.connections)]);
  server.start();
  // Let the server reach epoll_wait before the first SYN.
  cluster.run(cluster.events.now + 1e9);

  const socks: TcpSocket[] = [];
  for (let i = 0; i < o.connections; i++) {
    const s = client.stack.tcpSocket();
    s.noDelay = true;
    const r = s.connect(SERVER_ADDR, ECHO_PORT);
    if (r !== -115) throw new Error(`echo client ${i}: connect returned ${r}`);
    socks.push(s);
  }
  for (let t = 0; t < 200 && !socks.every((s) => s.state === TCP_ESTABLISHED); t++) cluster.run(cluster.events.now + 1e9);
  if (!socks.every((s) => s.state === TCP_ESTABLISHED)) throw new Error('echo clients: not every connection was established');

  const buf = new Uint8Array(o.messageBytes);
  const waiting: Array<(() => void) | undefined> = socks.map(() => undefined);
  const got = socks.map(() => 0);
  socks.forEach((s, i) => {
    s.onWake = () => {
      for (;;) {
        const n = s.recv(buf);
        if (n <= 0) break;
        got[i]! += n;
      }
      if (got[i]! >= o.messageBytes && waiting[i] !== undefined) {
        got[i]! -= o.messageBytes;
        const reply = waiting[i]!;
        waiting[i] = undefined;
        reply();
      }
    };
  });
  const m = server.machine;
  const before = snapshot(server);
  const clients = new ClosedLoopClients(cluster.events, o.connections, o.roundTrips, (c, reply) => {
    waiting[c] = reply;
    const n = socks[c]!.send(buf);
    if (n !== o.messageBytes) throw new Error(`echo client ${c}: send returned ${n}`);
  });
  clients.start();
  for (let guard = 0; Number.isNaN(clients.finishedAt); guard++) {
    const end = cluster.run(cluster.events.now + 1e10);
    if (end.reason === 'stalled') throw new Error(describeStall(end));
    if (guard > 100_000) throw new Error('echo experiment: the closed loop did not finish');
  }
  const after = snapshot(server);
  for (const s of socks) s.close();
  for (let t = 0; t < 50 && !proc.zombie; t++) cluster.run(cluster.events.now + 1e10);
  const done = clients.completed;
  const perMessage: Record<string, number> = {};
  for (const k of Object.keys(after)) perMessage[k] = (after[k]! - before[k]!) / done;
  void m;
  return {
    messagesPerSecond: clients.throughput(),
    completed: done,
    p50Ns: clients.latency.percentile(50) / 1000,
    p99Ns: clients.latency.percentile(99) / 1000,
    perMessage,
    serverOutput: server.output,
    retransmits: client.stack.counters.Tcp.RetransSegs + server.kernel.simNet.stack.counters.Tcp.RetransSegs,
  };
}

function snapshot(n: LinuxGuestNode): Record<string, number> {
  const s = n.machine.stats;
  let cycles = 0;
  for (const c of n.machine.cpus) cycles += c.cycles;
  return {
    deviceIrqs: s.get('linux.deviceIrqs'),
    syscalls: s.get('linux.syscalls'),
    contextSwitches: s.get('linux.contextSwitches'),
    cpuCycles: cycles,
  };
}
