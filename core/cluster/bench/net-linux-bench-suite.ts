import { join } from 'node:path';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { GUEST_BIN } from '../../system/guest-programs.js';
import { EchoExperimentOptions, EchoExperimentResult, runEchoExperiment } from '../echo-experiment.js';
import { runNetpipe } from '../netpipe-experiment.js';
import { kernelShare } from '../../vtx/cpu-mode.js';

const ECHO = join(GUEST_BIN, 'echoserver');
const FIG2 = 'IX Fig. 2 (NetPIPE, Linux–Linux, 64 B)';
const FIG3A = 'IX Fig. 3a, Linux-10 series (n = 1, 64 B; x axis in hyperthreads: 2 = 1 core)';
const FIG3B = 'IX Fig. 3b, Linux-10 series (64 B, all 8 cores / 16 hyperthreads), divided by 8 for one core';

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
  readonly description = 'Linux networking over the simulated 10 GbE: NetPIPE latency and echo throughput (IX Fig. 2, 3a, 3b)';
  readonly steps = 1 + ECHO_ROWS.length;

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
    return {
      suite: this.id, profile: ctx.profile, rows,
      meta: {
        server: 'examples/guest/echoserver on a simulated Linux machine, 82599 + ixgbe (EITR 40), --net sim',
        clients: 'echo: one modelled host, ClosedLoopClients, 10 GbE, 0.5 µs wire; NetPIPE: echoserver -c on a second simulated Linux machine',
      },
    };
  }
}

function counts(e: EchoExperimentResult): Record<string, number> {
  return { ...e.perMessage, kernelShare: kernelShare(e.perMessage), rttP50Ns: e.p50Ns, rttP99Ns: e.p99Ns, retransmits: e.retransmits, lateArrivals: e.lateArrivals };
}
