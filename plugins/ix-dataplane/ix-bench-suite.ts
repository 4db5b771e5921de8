import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { runEchoExperiment } from '../../core/cluster/echo-experiment.js';
import { runNetpipe } from '../../core/cluster/netpipe-experiment.js';
import { IxMechanismCounts, runIxEcho, runIxNetpipe } from './ix-experiments.js';
import { kernelShare } from '../../core/vtx/cpu-mode.js';
import { IX_SERIES_STEPS, ixFigureSeries } from './ix-figure-series.js';
import { FIG4_LLC, FIG4_SCALE, FIG4_THREADS, FIG4_X_UNIT, fig4Clients } from '../../core/cluster/fig4-scaling.js';

export const IX_BIN = fileURLToPath(new URL('./programs/bin', import.meta.url));
const ECHO_IX = join(IX_BIN, 'echo-ix');
const ECHO_LINUX = join(GUEST_BIN, 'echoserver');

/** The echo scale: 16 kept connections of 128 messages (net-linux's echo:cores=1:n=inf row). */
const ECHO = { connections: 16, roundTrips: 128, messageBytes: 64 } as const;

/**
 * `dunesim bench ix`: IX against Linux on the same simulated cluster, one server core each. The
 * `linux` column runs examples/guest/echoserver on the Linux model (ixgbe, NAPI, epoll, the
 * kernel's stack); the `dune` column runs echo-ix over libix on the IX dataplane (guest ring 0 on
 * Dune, polling its queue pair, batched calls). Both are predictions from the same profile; the
 * Linux network paths are pinned as `bench net-linux` says, and nothing is fitted to an IX figure.
 */
@injectable()
export class IxBenchSuite implements BenchSuite {
  readonly id = 'ix';
  readonly description = 'IX dataplane vs Linux on the simulated 10 GbE: NetPIPE latency and goodput (Fig. 2), echo throughput against server cores, round trips and message size (Fig. 3)';
  readonly steps = 7 + IX_SERIES_STEPS + IX_FIG4_POINTS.length;

  /**
   * IX Fig. 4 on one core: echo throughput and L3 misses per message against connections, with the
   * cache and the connections at 1/16 as for Linux, and the last point's throughput over the peak.
   */
  private fig4(ctx: BenchContext): BenchRow[] {
    const rows: BenchRow[] = [];
    const misses: BenchRow[] = [];
    let peak = 0;
    let last = 0;
    for (const x of IX_FIG4_POINTS) {
      const shape = fig4Clients(x);
      const e = runIxEcho({ profile: ctx.profile, echoIx: ECHO_IX, ...shape, llc: FIG4_LLC });
      const v = e.messagesPerSecond / 1e6;
      peak = Math.max(peak, v);
      last = v;
      rows.push({
        id: `fig4-ix:conns=${x}`, unit: 'M msgs/s', dune: v,
        description: `IX echo throughput, 1 core, ${shape.connections} persistent connections under ${FIG4_THREADS} client threads with a ${FIG4_LLC.bytes / 1024} KB LLC (the paper's ${x} connections and 20 MB at 1/${FIG4_SCALE}); ${e.completed} messages, ${(e.measuredSeconds * 1e3).toFixed(2)} ms measured`,
        series: { name: 'Fig. 4, IX, 1 core: echo throughput', x, xUnit: FIG4_X_UNIT },
        counts: { ...prefixed('ix', ixCounts(e.perMessage)), connections: shape.connections, completed: e.completed },
      });
      misses.push({
        id: `fig4-ix-llc-misses:conns=${x}`, unit: 'L3 misses/msg', dune: e.perMessage.llcMissesPerMessage,
        description: `IX: last-level cache misses per message (the proxy's), ${shape.connections} connections with a ${FIG4_LLC.bytes / 1024} KB LLC`,
        paper: x === 1296 || x === 10_000 ? { dune: 1.4, source: 'IX §5.4: 1.4 L3 misses per message up to 10,000 connections' }
          : x === 250_992 ? { dune: 25, source: 'IX §5.4: 25 L3 misses per message at 250,000 connections' } : undefined,
        series: { name: 'Fig. 4, IX: L3 misses per message', x, xUnit: FIG4_X_UNIT },
      });
      ctx.progress(`fig4 ix ${x}`);
    }
    rows.push(...misses);
    rows.push({
      id: 'fig4-ix-drop', unit: 'of peak', dune: last / peak,
      description: `IX's echo throughput at the last Fig. 4 point (${IX_FIG4_POINTS[IX_FIG4_POINTS.length - 1]} connections at 1/${FIG4_SCALE}) over its peak in the series, one core`,
      paper: { dune: 0.47, source: 'IX Fig. 4 and §5.4: IX at 250,000 connections is at 47 % of its peak (IX-40: 5.97 of 12.70 M msgs/s, at 250,992 and 1,296 connections)' },
    });
    return rows;
  }

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const linuxNp = runNetpipe({ profile: ctx.profile, echoserver: ECHO_LINUX, messageBytes: 64, roundTrips: [50, 150] });
    ctx.progress('pingpong linux');
    const ixNp = runIxNetpipe({ profile: ctx.profile, echoIx: ECHO_IX, messageBytes: 64, roundTrips: [50, 150] });
    ctx.progress('pingpong ix');
    rows.push({
      id: 'pingpong-64b', unit: 'µs', linux: linuxNp.oneWayUs, dune: ixNp.oneWayUs,
      description: 'NetPIPE one-way latency at 64 B, the same OS at both ends (half a round trip; the difference of 150 and 50 round trips)',
      paper: { linux: 24, dune: 5.7, source: 'IX Fig. 2 (NetPIPE, 10 GbE, Linux–Linux and IX–IX)' },
      counts: { ...prefixed('linux', linuxNp.perRoundTrip), ...prefixed('ix', ixCounts(ixNp.perRoundTrip)) },
    });
    const linuxEcho = runEchoExperiment({ profile: ctx.profile, server: ECHO_LINUX, cpus: 1, ...ECHO });
    ctx.progress('echo linux');
    const ixEcho = runIxEcho({ profile: ctx.profile, echoIx: ECHO_IX, ...ECHO });
    ctx.progress('echo ix');
    rows.push({
      id: 'echo-n1024-64b', unit: 'M msgs/s', linux: linuxEcho.messagesPerSecond / 1e6, dune: ixEcho.messagesPerSecond / 1e6,
      description: `echo throughput, 64 B, connections kept (the paper's n = 1024), ONE server core, ${ECHO.connections} connections × ${ECHO.roundTrips} messages`,
      paper: {
        linux: 1.0 / 8, dune: 8.8 / 8,
        source: 'IX Fig. 3b at n = 1024: Linux-10 1.00 and IX-10 8.8 M msgs/s with all 8 cores, divided by 8 for one core. IX\'s 8.8 is 10 GbE line rate, so 1.1 per core is a lower bound of what one IX core does',
      },
      counts: {
        ...prefixed('linux', { ...linuxEcho.perMessage, kernelShare: kernelShare(linuxEcho.perMessage), rttP99Ns: linuxEcho.p99Ns }),
        ...prefixed('ix', { ...ixCounts(ixEcho.perMessage), rttP99Ns: ixEcho.p99Ns, mbufsHeldAtEnd: ixEcho.mbufsHeld }),
      },
    });
    // Fig. 3a at one core (2 hyperthreads): a new connection per message, closed by the client with a reset.
    const N1 = { connections: 16, roundTrips: 24, perConnection: 1, messageBytes: 64 } as const;
    const linuxN1 = runEchoExperiment({ profile: ctx.profile, server: ECHO_LINUX, cpus: 1, ...N1 });
    ctx.progress('echo n=1 linux');
    const ixN1 = runIxEcho({ profile: ctx.profile, echoIx: ECHO_IX, ...N1 });
    ctx.progress('echo n=1 ix');
    rows.push({
      id: 'echo-n1-64b', unit: 'M msgs/s', linux: linuxN1.messagesPerSecond / 1e6, dune: ixN1.messagesPerSecond / 1e6,
      description: `echo throughput, 64 B, one message per connection (client resets it), ONE server core, ${N1.connections} connection slots × ${N1.roundTrips} messages`,
      paper: { linux: 0.05, dune: 0.65, source: 'IX Fig. 3a at 2 hyperthreads (one core), n = 1, 64 B: Linux-10 0.05, IX-10 0.65 M msgs/s' },
      counts: {
        ...prefixed('linux', { ...linuxN1.perMessage, kernelShare: kernelShare(linuxN1.perMessage), rttP99Ns: linuxN1.p99Ns }),
        ...prefixed('ix', { ...ixCounts(ixN1.perMessage), rttP99Ns: ixN1.p99Ns, mbufsHeldAtEnd: ixN1.mbufsHeld }),
      },
    });
    const b1 = runIxEcho({ profile: ctx.profile, echoIx: ECHO_IX, ...ECHO, batch: 1 });
    ctx.progress('echo ix B=1');
    rows.push({
      id: 'echo-n1024-64b:B=1', unit: 'M msgs/s', dune: b1.messagesPerSecond / 1e6,
      description: 'the IX echo row with the batch bound B = 1 (one packet per pass of the loop; Fig. 6 varies B on memcached, not here)',
      counts: prefixed('ix', ixCounts(b1.perMessage)),
    });
    rows.push(...ixFigureSeries(ctx, {
      pingpong64: { linux: linuxNp.oneWayUs, ix: ixNp.oneWayUs },
      echoN1: { linux: linuxN1.messagesPerSecond / 1e6, ix: ixN1.messagesPerSecond / 1e6, linuxCounts: linuxN1.perMessage, ixCounts: ixCounts(ixN1.perMessage) },
      echoKept: { linux: linuxEcho.messagesPerSecond / 1e6, ix: ixEcho.messagesPerSecond / 1e6, linuxCounts: linuxEcho.perMessage, ixCounts: ixCounts(ixEcho.perMessage) },
      keptOptions: ECHO,
    }));
    rows.push(...this.fig4(ctx));
    return {
      suite: this.id, profile: ctx.profile, rows,
      meta: {
        cores: 'one server core in every row but the fig3a series (one elastic thread per core; the Linux server with one CPU per core and an event loop on each)',
        ix40: 'IX-40: one 82599 port whose line rate is raised to 40 Gb/s, and a client port at 40 Gb/s (the paper used four 10 GbE ports)',
        linux: 'examples/guest/echoserver on the Linux model: 82599 + ixgbe (EITR 40), NAPI, epoll, the kernel TCP/IP stack',
        ix: 'plugins/ix-dataplane/programs/bin/echo-ix over libix in guest ring 3; the dataplane in guest ring 0 on Dune, polling, B = 64',
        clients: 'pingpong: the same OS on a second simulated machine; echo: one modelled host (no CPU cost), 10 GbE, 0.5 µs wire',
      },
    };
  }
}

/**
 * The paper's connection counts at which IX's Fig. 4 points run, at the Linux series' scale
 * (core/cluster/fig4-scaling.ts), up to the paper's last point, 250,992 (15,687 connections at
 * 1/16).
 */
const IX_FIG4_POINTS = [256, 1296, 10_000, 32_768, 65_536, 131_072, 250_992] as const;

function ixCounts(m: IxMechanismCounts): Record<string, number> {
  return { ...m };
}

function prefixed(p: string, r: Record<string, number>): Record<string, number> {
  const o: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) o[`${p}.${k}`] = v;
  return o;
}
