import { join } from 'node:path';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { GUEST_BIN } from '../../system/guest-programs.js';
import { EchoExperimentOptions, EchoExperimentResult, runEchoExperiment } from '../echo-experiment.js';
import { runNetpipe } from '../netpipe-experiment.js';
import { kernelShare } from '../../vtx/cpu-mode.js';
import { XEON_E5_2665_LLC } from '../ix-server-llc.js';
import { FIG4_LLC, FIG4_SCALE, FIG4_THREADS, FIG4_X_UNIT, fig4Clients } from '../fig4-scaling.js';

const ECHO = join(GUEST_BIN, 'echoserver');
const FIG2 = 'IX Fig. 2 (NetPIPE, Linux–Linux, 64 B)';
const FIG3A = 'IX Fig. 3a, Linux-10 series (n = 1, 64 B; x axis in hyperthreads: 2 = 1 core)';
const FIG3B = 'IX Fig. 3b, Linux-10 series (64 B, all 8 cores / 16 hyperthreads), divided by 8 for one core';
const FIG4 = 'IX Fig. 4, Linux-10 series (64 B RPCs over persistent connections, 8 cores), divided by 8 for one core';

/** Fig. 4's scale and client shape: core/cluster/fig4-scaling.ts. */
/** The paper's connection counts (its x axis) at which a point is run, divided by FIG4_SCALE. */
const FIG4_POINTS: ReadonlyArray<{ paperConnections: number; paper?: number; paperMisses?: number }> = [
  { paperConnections: 256 },
  { paperConnections: 1296, paper: 1.14 / 8, paperMisses: 1.4 },
  { paperConnections: 10_000, paperMisses: 1.4 },
  { paperConnections: 15_000 },
  { paperConnections: 32_768 },
  { paperConnections: 65_536 },
  { paperConnections: 131_072 },
  { paperConnections: 250_992, paper: 0.65 / 8, paperMisses: 25 },
];

interface EchoRow {
  id: string;
  description: string;
  cpus: number;
  connections: number;
  roundTrips: number;
  perConnection?: number;
  paper?: number;
  source?: string;
}

/** Echo runs: Fig. 3a (cores, n = 1) and Fig. 3b (messages per connection), at a scale for a minute on two cores. */
const ECHO_ROWS: readonly EchoRow[] = [
  { id: 'echo:cores=1:n=1', description: 'echo throughput, 1 core, a new connection per message (closed with RST)', cpus: 1, connections: 16, roundTrips: 24, perConnection: 1, paper: 0.05, source: FIG3A },
  { id: 'echo:cores=2:n=1', description: 'the same on 2 cores, one event loop per core', cpus: 2, connections: 16, roundTrips: 24, perConnection: 1, paper: 0.09, source: FIG3A },
  { id: 'echo:cores=1:n=8', description: 'echo throughput, 1 core, 8 messages per connection', cpus: 1, connections: 16, roundTrips: 48, perConnection: 8, paper: 0.52 / 8, source: FIG3B },
  { id: 'echo:cores=1:n=64', description: 'echo throughput, 1 core, 64 messages per connection', cpus: 1, connections: 16, roundTrips: 128, perConnection: 64, paper: 0.81 / 8, source: FIG3B },
  { id: 'echo:cores=1:n=inf', description: 'echo throughput, 1 core, connections kept open (n = 1024 in the paper)', cpus: 1, connections: 16, roundTrips: 128, paper: 1.0 / 8, source: FIG3B },
];

/**
 * `dunesim bench net-linux`: the IX paper's Linux network figures with examples/guest/echoserver
 * served by a simulated Linux machine (82599, ixgbe, NAPI, the kernel's TCP/IP stack under guest
 * sockets) to modelled client hosts (ClosedLoopClients over their own stack, at no CPU cost).
 */
@injectable()
export class NetLinuxBenchSuite implements BenchSuite {
  readonly id = 'net-linux';
  readonly description = 'Linux networking over the simulated 10 GbE: NetPIPE latency, echo throughput (IX Fig. 2, 3a, 3b) and connection scalability with the last-level cache proxy (Fig. 4)';
  readonly steps = 1 + ECHO_ROWS.length + FIG4_POINTS.length;

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const base = { profile: ctx.profile, server: ECHO, messageBytes: 64 } as const;
    // NetPIPE: two simulated Linux machines, one message in flight (Fig. 2 has the same OS at both ends).
    const np = runNetpipe({ profile: ctx.profile, echoserver: ECHO, messageBytes: 64, roundTrips: [50, 150] });
    rows.push({
      id: 'netpipe:64B', unit: 'µs', value: np.oneWayUs,
      description: 'NetPIPE one-way latency at 64 B between two simulated Linux machines (half a round trip; the difference of 150 and 50 round trips)',
      paper: { linux: 24, source: FIG2 }, counts: np.perRoundTrip,
    });
    ctx.progress('netpipe');
    for (const r of ECHO_ROWS) {
      const opts: EchoExperimentOptions = { ...base, cpus: r.cpus, connections: r.connections, roundTrips: r.roundTrips, perConnection: r.perConnection };
      const e = runEchoExperiment(opts);
      rows.push({
        id: r.id, unit: 'M msgs/s', value: e.messagesPerSecond / 1e6, description: r.description,
        paper: r.paper === undefined ? undefined : { linux: r.paper, source: r.source }, counts: counts(e),
      });
      ctx.progress(r.id);
    }
    const llc = FIG4_LLC;
    const xUnit = FIG4_X_UNIT;
    const missRows: BenchRow[] = [];
    for (const p of FIG4_POINTS) {
      const shape = fig4Clients(p.paperConnections);
      const connections = shape.connections;
      const e = runEchoExperiment({ ...base, ...shape, cpus: 1, llc });
      const id = `fig4:conns=${p.paperConnections}`;
      rows.push({
        id, unit: 'M msgs/s', value: e.messagesPerSecond / 1e6,
        description: `echo throughput, 1 core, ${connections} persistent connections under ${FIG4_THREADS} client threads with a ${llc.bytes / 1024} KB LLC (the paper's ${p.paperConnections} connections and 20 MB at 1/${FIG4_SCALE})` +
          (p.paperMisses !== undefined ? `; the paper measured ${p.paperMisses} L3 misses per message here` : ''),
        paper: p.paper === undefined ? undefined : { linux: p.paper, source: FIG4 },
        series: { name: 'Fig. 4, Linux, 1 core: echo throughput', x: p.paperConnections, xUnit },
        counts: { ...counts(e), connections, completed: e.completed },
      });
      missRows.push({
        id: `fig4-llc-misses:conns=${p.paperConnections}`, unit: 'L3 misses/msg', value: e.perMessage.llcMisses!,
        description: `last-level cache misses per message (the proxy's), ${connections} connections with a ${llc.bytes / 1024} KB LLC`,
        paper: p.paperMisses === undefined ? undefined : { linux: p.paperMisses, source: 'IX §5.4: the L3 misses per message the paper gives for its server under this load (not broken down by system; most likely measured on IX)' },
        series: { name: 'Fig. 4, Linux: L3 misses per message', x: p.paperConnections, xUnit },
      });
      ctx.progress(id);
    }
    rows.push(...missRows);
    return {
      suite: this.id, profile: ctx.profile, rows,
      meta: {
        server: 'examples/guest/echoserver on a simulated Linux machine, 82599 + ixgbe (EITR 40), --net sim',
        clients: 'echo: one modelled host, ClosedLoopClients, 10 GbE, 0.5 µs wire; NetPIPE: echoserver -c on a second simulated Linux machine',
        llc: `servers: the Xeon E5-2665's last-level cache (20 MB, 20-way, 2 DDIO ways, ${XEON_E5_2665_LLC.missNs} ns a miss); Fig. 4 at 1/${FIG4_SCALE} of its size and of the paper's connections`,
      },
    };
  }
}

function counts(e: EchoExperimentResult): Record<string, number> {
  return { ...e.perMessage, kernelShare: kernelShare(e.perMessage), rttP50Ns: e.p50Ns, rttP99Ns: e.p99Ns, retransmits: e.retransmits, lateArrivals: e.lateArrivals };
}
