import { IX_TESTBED_PATH } from '../../core/cluster/testbed-path.js';
import type { ProfileFile } from '../../core/vtx/cost-model.js';
import { Cluster, describeStall } from '../../core/cluster/cluster.js';
import { EchoClients } from '../../core/cluster/echo-clients.js';
import { ModelledHost } from '../../core/cluster/modelled-host.js';
import { IxNode } from './ix-node.js';
import type { LlcGeometry } from '../../core/vtx/last-level-cache.js';
import type { ElasticThread } from './elastic-thread.js';
import { kernelShare, ringCycles } from '../../core/vtx/cpu-mode.js';

const SERVER_ADDR = 0x0a00_0001;
const CLIENT_ADDR = 0x0a00_0002;
const PORT = 7;
/** The same path as the Linux experiments: the IX testbed's cables and switch. */
const WIRE = IX_TESTBED_PATH;
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
  /** The share of the server's busy cycles in ring 0 (the dataplane, and any host kernel time). */
  kernelShare: number;
  /** Last-level cache misses per message (the proxy's: flow state, descriptors, headers). */
  llcMissesPerMessage: number;
}

/** The machine's counts and the sums of its elastic threads' counters. */
function snapshot(n: IxNode, threads: readonly ElasticThread[]): Record<string, number> {
  const s = n.machine.stats;
  let batches = 0;
  let rxPackets = 0;
  let calls = 0;
  let bpolls = 0;
  let mmio = 0;
  for (const t of threads) {
    const c = t.counters;
    for (let i = 1; i < t.rxBatchHistogram.length; i++) batches += t.rxBatchHistogram[i]!;
    rxPackets += c.rxPackets;
    calls += c.calls;
    bpolls += c.bpolls;
    mmio += c.tailWrites + c.rdtWrites;
  }
  return {
    vmExits: s.sum('vmx.exits'),
    // SYSCALL instructions the CPUs executed (the kernel's own count of Linux system calls is apart).
    syscalls: s.sum('syscalls') - s.get('linux.syscalls'),
    interrupts: s.sum('interrupts'),
    rxPackets,
    rxBatches: batches,
    calls,
    bpolls,
    mmio,
    llcMisses: s.get('llc.misses'),
    ...ringCycles(s),
  };
}

function mechanisms(a: Record<string, number>, b: Record<string, number>, messages: number, threads: readonly ElasticThread[]): IxMechanismCounts {
  const d = (k: string): number => b[k]! - a[k]!;
  return {
    packetsPerBatch: d('rxPackets') / Math.max(1, d('rxBatches')),
    callsPerBatch: d('calls') / Math.max(1, d('bpolls')),
    crossingsPerMessage: d('syscalls') / messages,
    vmExitsPerMessage: d('vmExits') / messages,
    interruptsPerMessage: d('interrupts') / messages,
    mmioWritesPerMessage: d('mmio') / messages,
    maxRxBatch: Math.max(...threads.map((t) => t.counters.maxRxBatch)),
    kernelShare: kernelShare({ kernelCycles: d('kernelCycles'), userCycles: d('userCycles') }),
    llcMissesPerMessage: d('llcMisses') / messages,
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
    perRoundTrip: mechanisms(a.counts, b.counts, rounds, [b.thread]),
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
  cluster.connect(server.nic, client.nic, WIRE);
  server.spawn(o.echoIx, [String(o.messageBytes), '1']);
  server.start();
  runUntil(cluster, () => server.setup.threads.length > 0, 'ix netpipe: server set-up');
  const proc = client.spawn(o.echoIx, ['-c', '10.0.0.1', String(PORT), String(o.messageBytes), String(rounds)]);
  let exitCycles = NaN;
  let counts: Record<string, number> = {};
  client.kernel.onProcessExit = (p) => {
    if (p !== proc) return;
    exitCycles = Math.max(...client.machine.cpus.map((c) => c.cycles));
    counts = snapshot(client, client.setup.threads);
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
  /** Server cores, one elastic thread each (default 1). */
  readonly cores?: number;
  /** Line rate of the server's port and of the client's (default 10 Gb/s). */
  readonly bitsPerSecond?: number;
  /** Client threads cycling over kept connections (default: one per connection). */
  readonly clientThreads?: number;
  /** Round trips per connection before the measurement (touches every connection's state once). */
  readonly warmupRoundTrips?: number;
  /** The server's last-level cache proxy (default: IxNode's, the IX paper's server). */
  readonly llc?: LlcGeometry | null;
  /** Each elastic thread's flow table (default: ElasticThread's). */
  readonly maxFlows?: number;
  /** echo-ix -m: echo each message from the mbuf it arrived in (recv_done after `sent`), not from a copy in the connection's slot. */
  readonly fromMbuf?: boolean;
}

/** Connections echo-ix holds open at once (its MAX_CONNS). */
export const ECHO_IX_MAX_CONNS = 65_536;

export interface IxEchoResult {
  readonly messagesPerSecond: number;
  readonly completed: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly perMessage: IxMechanismCounts;
  readonly serverOutput: string;
  /** mbufs neither free nor on the RX ring once every connection has closed (a leak shows here), over all threads. */
  readonly mbufsHeld: number;
  /** The server's elastic threads (their counters: how RSS spread the work). */
  readonly threads: readonly ElasticThread[];
  /** Simulated seconds of the measured closed loop (to its 90 % mark). */
  readonly measuredSeconds: number;
}

/**
 * The echo experiment (IX Fig. 3) with an IX server on `cores` cores: echo-ix (one elastic
 * thread per core) on an IxNode and a modelled client host (as for Linux,
 * core/cluster/echo-experiment.ts) running closed-loop connections of `roundTrips` messages.
 * Throughput is over the first 90 % of the round trips.
 */
export function runIxEcho(o: IxEchoOptions): IxEchoResult {
  const cores = o.cores ?? 1;
  if (!(Number.isInteger(o.connections) && o.connections >= 1 && o.connections <= ECHO_IX_MAX_CONNS)) {
    throw new RangeError(`ix echo: ${o.connections} connections (echo-ix holds 1 to ${ECHO_IX_MAX_CONNS} open at once)`);
  }
  const cluster = new Cluster();
  const server = new IxNode(cluster, 'server', { profile: o.profile, mac: mac(1), address: SERVER_ADDR, port: PORT, cores, bitsPerSecond: o.bitsPerSecond, llc: o.llc, maxFlows: o.maxFlows });
  const client = new ModelledHost('client', cluster.events, mac(2), CLIENT_ADDR, 24, 2, o.bitsPerSecond);
  cluster.connectHost(server.nic, client, WIRE);
  const threads = server.setup.threads;
  const clients = new EchoClients(cluster, client, { ...o, address: SERVER_ADDR, port: PORT }, () => snapshot(server, threads));
  const total = clients.plannedConnections;
  const proc = server.spawn(o.echoIx, [...(o.fromMbuf ? ['-m'] : []), String(o.messageBytes), String(total), String(o.batch ?? 0), String(cores)]);
  server.start();
  runUntil(cluster, () => threads.length === cores || proc.zombie, 'ix echo: server set-up');
  if (threads.length !== cores) throw new Error(`ix echo: ${threads.length} of ${cores} elastic threads started: ${server.output.trim()}`);
  // A batch of handshakes takes tens of µs: looking every 20 µs spares simulating an idle,
  // polling dataplane for the rest of each millisecond.
  if (clients.kept) clients.openPaced('ix echo', 2e7);
  const before = snapshot(server, threads);
  const all = o.connections * o.roundTrips;
  clients.start();
  runUntil(cluster, () => {
    o.progress?.(clients.loop.completed, all);
    return clients.finished;
  }, 'ix echo: the closed loop', 1e8, 1_000_000);
  clients.abortPaced(2e7);
  try {
    runUntil(cluster, () => proc.zombie, 'ix echo: server exit', 1e9, 1000);
  } catch (e) {
    throw new Error(`${(e as Error).message} (${server.output.trim()}; ${threads.map((t) => `${t.name}: ${JSON.stringify(t.counters)} ${t.flowsOpen} flows`).join(', ')}; cycles ${server.machine.cpus.map((c) => c.cycles).join(' ')}, now ${cluster.events.now})`);
  }
  if (clients.opened !== total) throw new Error(`ix echo: ${clients.opened} connections opened, ${total} planned`);
  const loop = clients.loop;
  return {
    messagesPerSecond: clients.messagesPerSecond,
    completed: loop.completed,
    p50Ns: loop.latency.percentile(50) / 1000,
    p99Ns: loop.latency.percentile(99) / 1000,
    // Per message of the measured window only (from the warm-up's end, as the Linux experiment counts): the first visits' cold misses are not the steady state.
    perMessage: mechanisms(clients.atWarm ?? before, clients.atMark!, clients.mark - clients.warm, threads),
    serverOutput: server.output,
    mbufsHeld: threads.reduce((a, t) => a + t.mbufsHeld, 0),
    threads,
    measuredSeconds: (clients.mark - clients.warm) / clients.messagesPerSecond,
  };
}
