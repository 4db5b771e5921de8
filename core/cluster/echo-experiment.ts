import type { ProfileFile } from '../vtx/cost-model.js';
import type { TcpSocket } from '../net/tcp-socket.js';
import { EINPROGRESS } from '../linux/linux-abi.js';
import { TCP_ESTABLISHED } from '../net/tcp-state.js';
import { Cluster, describeStall } from './cluster.js';
import { ClosedLoopClients } from './load-generators.js';
import { LinuxGuestNode } from './linux-guest-node.js';
import { ModelledHost } from './modelled-host.js';

export const SERVER_ADDR = 0x0a00_0001; // 10.0.0.1
export const CLIENT_ADDR = 0x0a00_0002; // 10.0.0.2
const ECHO_PORT = 7;
/** One metre of fibre or copper and the PHYs: the cluster's wire delay (and lookahead). */
export const WIRE_SECONDS = 0.5e-6;

export interface EchoExperimentOptions {
  readonly profile: string | ProfileFile;
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
    address: SERVER_ADDR, prefixLength: 24, itr: o.itr,
  });
  const client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), CLIENT_ADDR, 24, 2);
  cluster.connectHost(server.nic, client, WIRE_SECONDS);
  // Each client connection slot runs `perConnection` round trips on a connection, then closes it
  // with a reset (as the paper's clients do) and opens the next.
  const n = o.perConnection ?? Infinity;
  const cycles = Number.isFinite(n) ? Math.ceil(o.roundTrips / n) : 1;
  const total = o.connections * cycles;
  const proc = server.spawn(o.server, [String(ECHO_PORT), String(o.threads ?? o.cpus), String(o.messageBytes), String(total)]);
  server.start();
  // Let the server reach epoll_wait before the first SYN.
  cluster.run(cluster.events.now + 1e9);

  const msg = new Uint8Array(o.messageBytes);
  const buf = new Uint8Array(Math.max(o.messageBytes, 2048));
  interface Slot { sock: TcpSocket | undefined; sent: number; got: number; reply: (() => void) | undefined; pending: boolean }
  const slots: Slot[] = [];
  let opened = 0;
  const sendOn = (slot: Slot): void => {
    slot.pending = false;
    slot.sent++;
    const r = slot.sock!.send(msg);
    if (r !== o.messageBytes) throw new Error(`echo client: send returned ${r}`);
  };
  const open = (slot: Slot): void => {
    const s = client.stack.tcpSocket();
    s.noDelay = true;
    slot.sock = s;
    slot.sent = 0;
    slot.got = 0;
    opened++;
    s.onWake = () => {
      if (slot.sock !== s) return;
      if (slot.pending && s.state === TCP_ESTABLISHED) sendOn(slot);
      for (;;) {
        const k = s.recv(buf);
        if (k <= 0) break;
        slot.got += k;
      }
      if (slot.got >= o.messageBytes && slot.reply !== undefined) {
        slot.got -= o.messageBytes;
        const reply = slot.reply;
        slot.reply = undefined;
        reply();
      }
    };
    const r = s.connect(SERVER_ADDR, ECHO_PORT);
    if (r !== -EINPROGRESS) throw new Error(`echo client: connect returned ${r}`);
  };
  for (let i = 0; i < o.connections; i++) slots.push({ sock: undefined, sent: 0, got: 0, reply: undefined, pending: false });
  // With connections kept for the whole run, they are opened before the measurement starts.
  if (!Number.isFinite(n)) {
    for (const slot of slots) open(slot);
    for (let t = 0; t < 200 && !slots.every((x) => x.sock!.state === TCP_ESTABLISHED); t++) cluster.run(cluster.events.now + 1e9);
    if (!slots.every((x) => x.sock!.state === TCP_ESTABLISHED)) throw new Error('echo clients: not every connection was established');
  }
  const before = snapshot(server);
  // Throughput is taken over the first 90 % of the round trips: the last connections to finish
  // run alone, and one slow straggler would otherwise set the figure.
  const all = o.connections * o.roundTrips;
  const mark = Math.ceil(all * 0.9);
  let replies = 0;
  let markAt = NaN;
  const startAt = cluster.events.now;
  let atMark: Record<string, number> | undefined;
  const clients = new ClosedLoopClients(cluster.events, o.connections, o.roundTrips, (c, reply) => {
    const slot = slots[c]!;
    slot.reply = () => {
      if (++replies === mark) {
        markAt = cluster.events.now;
        atMark = snapshot(server);
      }
      reply();
    };
    if (slot.sock !== undefined && slot.sent >= n) {
      slot.sock.abort();
      slot.sock = undefined;
    }
    if (slot.sock === undefined) {
      open(slot);
      slot.pending = true;
      return;
    }
    sendOn(slot);
  });
  clients.start();
  for (let guard = 0; Number.isNaN(clients.finishedAt); guard++) {
    const end = cluster.run(cluster.events.now + 1e10);
    if (end.reason === 'stalled') throw new Error(describeStall(end));
    if (guard > 100_000) throw new Error('echo experiment: the closed loop did not finish');
  }
  const after = snapshot(server);
  for (const slot of slots) slot.sock?.abort();
  for (let t = 0; t < 50 && !proc.zombie; t++) cluster.run(cluster.events.now + 1e10);
  if (opened !== total) throw new Error(`echo experiment: ${opened} connections opened, ${total} planned`);
  const done = clients.completed;
  const perMessage: Record<string, number> = {};
  for (const k of Object.keys(after)) perMessage[k] = (atMark![k]! - before[k]!) / mark;
  void after;
  return {
    messagesPerSecond: mark / ((markAt - startAt) / 1e12),
    wholeRunMessagesPerSecond: clients.throughput(),
    completed: done,
    p50Ns: clients.latency.percentile(50) / 1000,
    meanNs: clients.latency.mean() / 1000,
    p99Ns: clients.latency.percentile(99) / 1000,
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
  };
}
