import type { ProfileFile } from '../../core/vtx/cost-model.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { Cluster, describeStall } from '../../core/cluster/cluster.js';
import { ClosedLoopClients } from '../../core/cluster/load-generators.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { IxNode } from './ix-node.js';
import type { ElasticThread } from './elastic-thread.js';

const SERVER_ADDR = 0x0a00_0001;
const CLIENT_ADDR = 0x0a00_0002;
const PORT = 7;
/** The same wire as the Linux experiments (core/cluster/echo-experiment.ts). */
const WIRE_SECONDS = 0.5e-6;
const mac = (n: number): Uint8Array => Uint8Array.from([0, 0x1b, 0x21, 0, 0, n]);

/** What explains an IX figure: per message (or round trip), from the server's elastic thread and machine. */
export interface IxMechanismCounts {
  /** Packets taken per pass of the loop that took any. */
  packetsPerBatch: number;
  /** Batched calls per bpoll. */
  callsPerBatch: number;
  /** Ring 3 → ring 0 crossings (SYSCALL instructions of the application) per message. */
  crossingsPerMessage: number;
  /** VM exits per message (the steady state should have none). */
  vmExitsPerMessage: number;
  /** Device interrupts per message (polling: none). */
  interruptsPerMessage: number;
  /** MMIO writes per message (TX tail and coalesced RX tail writes). */
  mmioWritesPerMessage: number;
  /** Largest RX batch seen (never above B). */
  maxRxBatch: number;
}

function snapshot(n: IxNode, t: ElasticThread): Record<string, number> {
  const s = n.machine.stats;
  const c = t.counters;
  let batches = 0;
  for (let i = 1; i < t.rxBatchHistogram.length; i++) batches += t.rxBatchHistogram[i]!;
  return {
    vmExits: s.sum('vmx.exits'),
    // SYSCALL instructions the CPUs executed (the kernel's own count of Linux system calls is apart).
    syscalls: s.sum('syscalls') - s.get('linux.syscalls'),
    interrupts: s.sum('interrupts'),
    rxPackets: c.rxPackets,
    rxBatches: batches,
    calls: c.calls,
    bpolls: c.bpolls,
    mmio: c.tailWrites + c.rdtWrites,
  };
}

function mechanisms(a: Record<string, number>, b: Record<string, number>, messages: number, t: ElasticThread): IxMechanismCounts {
  const d = (k: string): number => b[k]! - a[k]!;
  return {
    packetsPerBatch: d('rxPackets') / Math.max(1, d('rxBatches')),
    callsPerBatch: d('calls') / Math.max(1, d('bpolls')),
    crossingsPerMessage: d('syscalls') / messages,
    vmExitsPerMessage: d('vmExits') / messages,
    interruptsPerMessage: d('interrupts') / messages,
    mmioWritesPerMessage: d('mmio') / messages,
    maxRxBatch: t.counters.maxRxBatch,
  };
}

/** Runs the cluster until `done`, or fails with what blocked it. */
function runUntil(cluster: Cluster, done: () => boolean, what: string, stepPs = 1e9, limit = 100_000): void {
  for (let guard = 0; !done(); guard++) {
    const end = cluster.run(cluster.events.now + stepPs);
    if (end.reason === 'stalled') throw new Error(`${what}: ${describeStall(end)}`);
    if (guard > limit) throw new Error(`${what}: did not finish`);
  }
}

export interface IxNetpipeOptions {
  readonly profile: string | ProfileFile;
  /** plugins/ix-dataplane/programs/bin/echo-ix. */
  readonly echoIx: string;
  readonly messageBytes: number;
  readonly roundTrips: readonly [number, number];
}

export interface IxNetpipeResult {
  readonly oneWayUs: number;
  readonly perRoundTrip: IxMechanismCounts;
  readonly output: string;
}

/**
 * NetPIPE between two IX machines (IX Fig. 2 runs IX at both ends): echo-ix serves on one,
 * `echo-ix -c` on the other sends a message, waits for its echo, and sends the next. As for
 * Linux (core/cluster/netpipe-experiment.ts), the one-way latency is half the difference of the
 * client's exit times for two numbers of round trips over their difference.
 */
export function runIxNetpipe(o: IxNetpipeOptions): IxNetpipeResult {
  const runs = o.roundTrips.map((n) => ixNetpipeOnce(o, n));
  const [a, b] = runs as [IxNetpipeRun, IxNetpipeRun];
  const rounds = o.roundTrips[1] - o.roundTrips[0];
  return {
    oneWayUs: ((b.exitSeconds - a.exitSeconds) / rounds / 2) * 1e6,
    perRoundTrip: mechanisms(a.counts, b.counts, rounds, b.thread),
    output: a.output + b.output,
  };
}

interface IxNetpipeRun {
  exitSeconds: number;
  counts: Record<string, number>;
  output: string;
  thread: ElasticThread;
}

function ixNetpipeOnce(o: IxNetpipeOptions, rounds: number): IxNetpipeRun {
  const cluster = new Cluster();
  const server = new IxNode(cluster, 'server', { profile: o.profile, mac: mac(1), address: SERVER_ADDR, port: PORT });
  const client = new IxNode(cluster, 'client', { profile: o.profile, mac: mac(2), address: CLIENT_ADDR, port: PORT });
  cluster.connect(server.nic, client.nic, WIRE_SECONDS);
  server.spawn(o.echoIx, [String(o.messageBytes), '1']);
  server.start();
  runUntil(cluster, () => server.setup.threads.length > 0, 'ix netpipe: server set-up');
  const proc = client.spawn(o.echoIx, ['-c', '10.0.0.1', String(PORT), String(o.messageBytes), String(rounds)]);
  let exitCycles = NaN;
  let counts: Record<string, number> = {};
  client.kernel.onProcessExit = (p) => {
    if (p !== proc) return;
    exitCycles = Math.max(...client.machine.cpus.map((c) => c.cycles));
    counts = snapshot(client, client.setup.threads[0]!);
  };
  client.start();
  runUntil(cluster, () => !Number.isNaN(exitCycles), 'ix netpipe: client', 1e10, 10_000);
  if (!client.output.includes(`round trips ${rounds}`)) throw new Error(`ix netpipe client: ${client.output.trim()}`);
  return { exitSeconds: exitCycles / client.machine.costs.clockHz, counts, output: client.output, thread: client.setup.threads[0]! };
}

export interface IxEchoOptions {
  readonly profile: string | ProfileFile;
  readonly echoIx: string;
  readonly connections: number;
  readonly roundTrips: number;
  readonly messageBytes: number;
  /** Round trips on one connection before the client resets it and opens another (default: kept). */
  readonly perConnection?: number;
  /** The batch bound B (default 64). */
  readonly batch?: number;
  /** Called as the closed loop runs, with the round trips completed and the total. */
  readonly progress?: (completed: number, total: number) => void;
}

export interface IxEchoResult {
  readonly messagesPerSecond: number;
  readonly completed: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly perMessage: IxMechanismCounts;
  readonly serverOutput: string;
  /** mbufs neither free nor on the RX ring once every connection has closed (a leak shows here). */
  readonly mbufsHeld: number;
}

/**
 * The echo experiment (IX Fig. 3) with an IX server on one core: echo-ix on an IxNode and a
 * modelled client host (as for Linux, core/cluster/echo-experiment.ts) running closed-loop
 * connections of `roundTrips` messages. Throughput is over the first 90 % of the round trips.
 */
export function runIxEcho(o: IxEchoOptions): IxEchoResult {
  const cluster = new Cluster();
  const server = new IxNode(cluster, 'server', { profile: o.profile, mac: mac(1), address: SERVER_ADDR, port: PORT });
  const client = new ModelledHost('client', cluster.events, mac(2), CLIENT_ADDR, 24, 2);
  cluster.connectHost(server.nic, client, WIRE_SECONDS);
  const n = o.perConnection ?? Infinity;
  const cycles = Number.isFinite(n) ? Math.ceil(o.roundTrips / n) : 1;
  const total = o.connections * cycles;
  const proc = server.spawn(o.echoIx, [String(o.messageBytes), String(total), String(o.batch ?? 0)]);
  server.start();
  runUntil(cluster, () => server.setup.threads.length > 0, 'ix echo: server set-up');
  const thread = server.setup.threads[0]!;

  const msg = new Uint8Array(o.messageBytes);
  const buf = new Uint8Array(Math.max(o.messageBytes, 2048));
  interface Slot { sock: TcpSocket | undefined; sent: number; got: number; reply: (() => void) | undefined; pending: boolean }
  const slots: Slot[] = [];
  let opened = 0;
  const sendOn = (slot: Slot): void => {
    slot.pending = false;
    slot.sent++;
    const r = slot.sock!.send(msg);
    if (r !== o.messageBytes) throw new Error(`ix echo client: send returned ${r}`);
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
    const r = s.connect(SERVER_ADDR, PORT);
    if (r !== -EINPROGRESS) throw new Error(`ix echo client: connect returned ${r}`);
  };
  for (let i = 0; i < o.connections; i++) slots.push({ sock: undefined, sent: 0, got: 0, reply: undefined, pending: false });
  if (!Number.isFinite(n)) {
    for (const slot of slots) open(slot);
    runUntil(cluster, () => slots.every((x) => x.sock!.state === TCP_ESTABLISHED), 'ix echo: connections', 1e9, 200);
  }
  const before = snapshot(server, thread);
  const all = o.connections * o.roundTrips;
  const mark = Math.ceil(all * 0.9);
  let replies = 0;
  let markAt = NaN;
  let atMark: Record<string, number> | undefined;
  const startAt = cluster.events.now;
  const clients = new ClosedLoopClients(cluster.events, o.connections, o.roundTrips, (c, reply) => {
    const slot = slots[c]!;
    slot.reply = () => {
      if (++replies === mark) {
        markAt = cluster.events.now;
        atMark = snapshot(server, thread);
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
  runUntil(cluster, () => {
    o.progress?.(clients.completed, all);
    return !Number.isNaN(clients.finishedAt);
  }, 'ix echo: the closed loop', 1e8, 1_000_000);
  for (const slot of slots) slot.sock?.abort();
  runUntil(cluster, () => proc.zombie, 'ix echo: server exit', 1e9, 1000);
  if (opened !== total) throw new Error(`ix echo: ${opened} connections opened, ${total} planned`);
  return {
    messagesPerSecond: mark / ((markAt - startAt) / 1e12),
    completed: clients.completed,
    p50Ns: clients.latency.percentile(50) / 1000,
    p99Ns: clients.latency.percentile(99) / 1000,
    perMessage: mechanisms(before, atMark!, mark, thread),
    serverOutput: server.output,
    mbufsHeld: thread.mbufsHeld,
  };
}
