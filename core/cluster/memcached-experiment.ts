import type { LlcGeometry } from '../vtx/last-level-cache.js';
import { XEON_E5_2665_LLC } from './ix-server-llc.js';
import type { ProfileFile } from '../vtx/cost-model.js';
import { EINPROGRESS } from '../linux/linux-abi.js';
import { Cluster, describeStall } from './cluster.js';
import { picoseconds } from './event-queue.js';
import { LatencyHistogram } from './latency-histogram.js';
import { OpenLoopPoisson, SeededRandom } from './load-generators.js';
import { LinuxGuestNode } from './linux-guest-node.js';
import { MemcachedConnection, MemcachedReply } from './memcached-client.js';
import { MemcachedKeySpace, MemcachedRequestStream, MemcachedWorkload } from './memcached-workload.js';
import { ModelledHost } from './modelled-host.js';
import type { Nic82599 } from '../vtx/devices/nic-82599.js';
import { CLIENT_ADDR, SERVER_ADDR, WIRE } from './echo-experiment.js';
import { ringCycles, ringInstructions } from '../vtx/cpu-mode.js';

export const MEMCACHED_PORT = 11211;
/** Connections opened at a time after the first (which resolves ARP alone): a burst of SYNs would wait on one ARP entry. */
const CONNECT_BATCH = 16;
const MS = picoseconds(1e-3);

/**
 * The server side of a memcached rig: a machine of the cluster running a kvserver on `nic`. The
 * rig wires its client host to the port, runs the cluster until the server is `ready`, and
 * reports differences of `counts` per request.
 */
export interface MemcachedServerNode {
  readonly nic: Nic82599;
  readonly output: string;
  ready(): boolean;
  /** The server's work counters (differences are reported per request). */
  counts(): Record<string, number>;
}

/** Builds and starts the server of a rig (default: kvserver on the Linux model). */
export type MemcachedServerFactory = (cluster: Cluster, o: MemcachedExperimentOptions) => MemcachedServerNode;

/** kvserver on a LinuxGuestNode: one epoll loop per CPU, the kernel's stack under its sockets. */
export function linuxMemcachedServer(cluster: Cluster, o: MemcachedExperimentOptions): MemcachedServerNode {
  const node = new LinuxGuestNode(cluster, 'server', {
    profile: o.profile, cpus: o.cpus, mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 1]),
    address: SERVER_ADDR, prefixLength: 24, itr: o.itr, llc: o.llc === undefined ? XEON_E5_2665_LLC : o.llc,
  });
  node.spawn(o.server, [String(MEMCACHED_PORT), String(o.threads ?? o.cpus), '0']);
  node.start();
  const start = cluster.events.now;
  return {
    nic: node.nic,
    get output() {
      return node.output;
    },
    // Let the server reach epoll_wait before the first SYN.
    ready: () => cluster.events.now >= start + MS,
    counts: () => {
      const s = node.machine.stats;
      return {
        deviceIrqs: s.get('linux.deviceIrqs'),
        napiPolls: s.get('linux.net.napiPolls'),
        syscalls: s.get('linux.syscalls'),
        contextSwitches: s.get('linux.contextSwitches'),
        llcMisses: s.get('llc.misses'),
        ...ringCycles(s),
        ...ringInstructions(s),
      };
    },
  };
}

export interface MemcachedExperimentOptions {
  readonly profile: string | ProfileFile;
  /** The server's last-level cache proxy (default: the IX paper's server, XEON_E5_2665_LLC; null: none). */
  readonly llc?: LlcGeometry | null;
  /** The kvserver binary (examples/guest/kvserver; for another server, what `serverNode` runs). */
  readonly server: string;
  /** The server machine (default: linuxMemcachedServer). */
  readonly serverNode?: MemcachedServerFactory;
  /** CPUs of the server machine. */
  readonly cpus: number;
  /** The server's event loops (threads); one per CPU by default. */
  readonly threads?: number;
  readonly workload: MemcachedWorkload;
  /** Client connections (mutilate's, over all its agents). */
  readonly connections: number;
  /** Keys in the key space, each SET once before any measurement. */
  readonly records: number;
  /** Requests pipelined on a connection at most (mutilate --depth; default 4 as in the paper). */
  readonly depth?: number;
  readonly seed?: number;
  /** EITR of the server's queues (ixgbe's setting; default IXGBE_100K_ITR). */
  readonly itr?: number;
}

/** One open-loop run at an offered load. */
export interface MemcachedLoadPoint {
  readonly offeredPerSecond: number;
  /** Replies per second while requests were offered. */
  readonly achievedPerSecond: number;
  readonly seconds: number;
  readonly issued: number;
  readonly completed: number;
  /** Latency from a request's arrival at the client to its whole reply, in µs (bucket upper edges). */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly hits: number;
  readonly misses: number;
  readonly errors: number;
  /** The server's work per request: interrupts, NAPI polls, system calls, context switches. */
  readonly perRequest: Record<string, number>;
}

/**
 * The memcached experiment of IX Fig. 5 and Table 2 with a Linux server: examples/guest/kvserver
 * (memcached's text protocol, one epoll loop per core) on a simulated Linux machine (82599,
 * ixgbe, the kernel's TCP/IP stack under its sockets), loaded by a modelled client host that runs
 * mutilate's part: `connections` connections opened a few at a time, every key SET once, then
 * open-loop Poisson arrivals of the workload's GETs and SETs at a chosen rate, spread over the
 * connections, each pipelined up to `depth` deep. Loads are measured one after another on the
 * same server, each drained before the next, as a mutilate sweep does.
 */
export class MemcachedRig {
  readonly cluster = new Cluster();
  readonly server: MemcachedServerNode;
  readonly client: ModelledHost;
  readonly connections: MemcachedConnection[] = [];
  private readonly stream: MemcachedRequestStream;
  private readonly space: MemcachedKeySpace;
  private readonly values: Uint8Array;
  private readonly warmRng: SeededRandom;
  private phase = 0;

  constructor(readonly o: MemcachedExperimentOptions) {
    const seed = o.seed ?? 1;
    this.space = new MemcachedKeySpace(o.workload, o.records, seed);
    this.stream = new MemcachedRequestStream(this.space, seed + 1);
    this.warmRng = new SeededRandom(seed + 2);
    this.values = new Uint8Array(1024).map((_, i) => 0x61 + (i % 26));
    const cluster = this.cluster;
    this.server = (o.serverNode ?? linuxMemcachedServer)(cluster, o);
    this.client = new ModelledHost('client', cluster.events, Uint8Array.from([0, 0x1b, 0x21, 0, 0, 2]), CLIENT_ADDR, 24, 2);
    cluster.connectHost(this.server.nic, this.client, WIRE);
    if (!this.runUntil(() => this.server.ready(), 2000 * MS, MS)) throw new Error(`memcached server not ready: ${this.server.output.trim()}`);
    this.connect();
    this.warm();
  }

  private runFor(ps: number): void {
    const end = this.cluster.run(this.cluster.events.now + ps);
    if (end.reason === 'stalled') throw new Error(describeStall(end));
  }

  /** Runs until `done()` or `limitPs` of cluster time have passed; whether done() held. */
  private runUntil(done: () => boolean, limitPs: number, stepPs = 0.1 * MS): boolean {
    const until = this.cluster.events.now + limitPs;
    while (!done() && this.cluster.events.now < until) this.runFor(stepPs);
    return done();
  }

  private connect(): void {
    const open = (): MemcachedConnection => {
      const s = this.client.stack.tcpSocket();
      s.noDelay = true;
      const c = new MemcachedConnection(s, this.o.depth ?? 4);
      const r = s.connect(SERVER_ADDR, MEMCACHED_PORT);
      if (r !== -EINPROGRESS) throw new Error(`memcached client: connect returned ${r}`);
      this.connections.push(c);
      return c;
    };
    open();
    for (let left = this.o.connections - 1; ; left -= CONNECT_BATCH) {
      if (!this.runUntil(() => this.connections.every((c) => c.established), 200 * MS)) {
        throw new Error(`memcached clients: ${this.connections.filter((c) => !c.established).length} of ${this.connections.length} connections not established`);
      }
      if (left <= 0) break;
      for (let i = 0; i < Math.min(CONNECT_BATCH, left); i++) open();
    }
  }

  /** SETs every key once (mutilate --loadonly), spread over the connections. */
  private warm(): void {
    let done = 0;
    let bad = 0;
    const n = this.space.records;
    for (let r = 0; r < n; r++) {
      const size = this.o.workload.valueBytes(this.warmRng);
      this.connections[r % this.connections.length]!.set(this.space.keys[r]!, this.values.subarray(0, size), (rep) => {
        done++;
        if (rep !== 'stored') bad++;
      });
    }
    if (!this.runUntil(() => done === n, 5000 * MS, MS)) throw new Error(`memcached warm-up: ${done} of ${n} SETs answered`);
    if (bad > 0) throw new Error(`memcached warm-up: ${bad} SETs not stored`);
  }

  private serverCounts(): Record<string, number> {
    return this.server.counts();
  }

  /**
   * Offers `ratePerSecond` requests (Poisson arrivals) for `seconds`, then waits for every reply.
   * Latency counts from each request's arrival, whether it waited at the client for a pipeline
   * slot or at the server.
   */
  measure(ratePerSecond: number, seconds: number, progress?: (simulatedSeconds: number) => void): MemcachedLoadPoint {
    const events = this.cluster.events;
    const latency = new LatencyHistogram();
    let hits = 0;
    let misses = 0;
    let errors = 0;
    let completed = 0;
    const before = this.serverCounts();
    const protocolBefore = this.connections.reduce((a, c) => a + c.protocolErrors, 0);
    const gen = new OpenLoopPoisson(events, ratePerSecond, this.connections.length, 0x5eed + this.phase++, (c, reply) => {
      const sent = events.now;
      const req = this.stream.next();
      const conn = this.connections[c]!;
      const done = (rep: MemcachedReply): void => {
        latency.record(events.now - sent);
        completed++;
        if (rep === 'hit') hits++;
        else if (rep === 'miss') misses++;
        else if (rep === 'error') errors++;
        reply();
      };
      const key = this.space.keys[req.record]!;
      if (req.get) conn.get(key, done);
      else conn.set(key, this.values.subarray(0, req.valueBytes), done);
    });
    gen.start(seconds);
    if (progress === undefined) this.runFor(picoseconds(seconds));
    else {
      // In tenths, so that a caller can show how far the window has run.
      for (let k = 1; k <= 10; k++) {
        this.runFor(picoseconds((seconds * k) / 10) - picoseconds((seconds * (k - 1)) / 10));
        progress((seconds * k) / 10);
      }
    }
    const inWindow = completed;
    // Drain: an overloaded server's backlog is answered too, and its latency counted.
    if (!this.runUntil(() => completed === gen.issued && this.connections.every((c) => c.outstanding === 0), 2000 * MS, 0.5 * MS)) {
      throw new Error(`memcached at ${ratePerSecond}/s: ${gen.issued - completed} requests never answered`);
    }
    const after = this.serverCounts();
    const perRequest: Record<string, number> = {};
    for (const k of Object.keys(after)) perRequest[k] = (after[k]! - before[k]!) / Math.max(1, completed);
    errors += this.connections.reduce((a, c) => a + c.protocolErrors, 0) - protocolBefore;
    return {
      offeredPerSecond: ratePerSecond, achievedPerSecond: inWindow / seconds, seconds,
      issued: gen.issued, completed,
      p50Us: latency.percentile(50) / 1e6, p99Us: latency.percentile(99) / 1e6, meanUs: latency.mean() / 1e6,
      hits, misses, errors, perRequest,
    };
  }
}

export interface SlaSearchOptions {
  /** The p99 bound, µs (the paper: 500). */
  readonly slaUs: number;
  /** The first load tried, requests/s; it must meet the SLA. */
  readonly startPerSecond: number;
  /** Simulated seconds each load runs for. */
  readonly seconds: number;
  /** Bisection steps after the first load that misses (default 4). */
  readonly refine?: number;
  /** Factor between loads while they meet the SLA (default 1.5). */
  readonly growth?: number;
}

export interface SlaSearchResult {
  /** The highest load that met the SLA, and what it achieved. */
  readonly best: MemcachedLoadPoint;
  readonly points: readonly MemcachedLoadPoint[];
}

/**
 * A load meets the SLA when its p99 is under the bound (the backlog an overloaded server leaves is
 * drained and counted) and the server kept up: ≥ 98 % of the requests that arrived in the window
 * were answered in it. The arrivals, not the nominal rate, are the reference: a Poisson count over
 * a short window strays a few percent from it.
 */
export function meetsSla(p: MemcachedLoadPoint, slaUs: number): boolean {
  return p.errors === 0 && p.p99Us < slaUs && p.achievedPerSecond * p.seconds >= 0.98 * p.issued;
}

/**
 * The throughput at a p99 SLA (Table 2's "RPS for SLA"): loads rise geometrically from
 * `startPerSecond` until one misses the SLA, then bisect between the last that met it and the
 * first that did not. The figure is the achieved throughput of the best load that met it.
 */
export function searchSlaThroughput(rig: MemcachedRig, o: SlaSearchOptions): SlaSearchResult {
  const points: MemcachedLoadPoint[] = [];
  const at = (rate: number): MemcachedLoadPoint => {
    const p = rig.measure(rate, o.seconds);
    points.push(p);
    return p;
  };
  let best = at(o.startPerSecond);
  if (!meetsSla(best, o.slaUs)) throw new Error(`memcached: the first load, ${o.startPerSecond}/s, already misses the SLA (p99 ${best.p99Us.toFixed(0)} µs)`);
  let lo = o.startPerSecond;
  let hi = 0;
  for (let guard = 0; guard < 30; guard++) {
    const rate = lo * (o.growth ?? 1.5);
    const p = at(rate);
    if (!meetsSla(p, o.slaUs)) {
      hi = rate;
      break;
    }
    lo = rate;
    best = p;
  }
  if (hi === 0) throw new Error('memcached: no load missed the SLA');
  for (let i = 0; i < (o.refine ?? 4); i++) {
    const mid = (lo + hi) / 2;
    const p = at(mid);
    if (meetsSla(p, o.slaUs)) {
      lo = mid;
      best = p;
    } else hi = mid;
  }
  return { best, points };
}
