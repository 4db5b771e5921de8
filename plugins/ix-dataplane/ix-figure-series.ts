import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchRow } from '../../core/bench/bench-suite.js';
import { runEchoExperiment } from '../../core/cluster/echo-experiment.js';
import { runNetpipe } from '../../core/cluster/netpipe-experiment.js';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { IxMechanismCounts, runIxEcho, runIxNetpipe } from './ix-experiments.js';

const ECHO_IX = fileURLToPath(new URL('./programs/bin/echo-ix', import.meta.url));
const ECHO_LINUX = join(GUEST_BIN, 'echoserver');

/** IX Fig. 3 series from the authors' data (M msgs/s; (c) in Gb/s); the x axis of (a) is hyperthreads, 2 per core. */
const FIG3A: Record<string, Record<number, number>> = {
  'Linux-10': { 1: 0.05, 2: 0.09, 3: 0.1, 4: 0.13, 6: 0.16, 8: 0.19 },
  'IX-10': { 1: 0.65, 2: 1.28, 3: 1.74, 4: 1.72, 6: 1.68, 8: 1.65 },
  'IX-40': { 1: 0.56, 2: 1.15, 3: 1.67, 4: 2.25, 6: 3.11, 8: 3.76 },
};
const FIG3B: Record<string, Record<number, number>> = {
  'Linux-10': { 1: 0.19, 2: 0.29, 8: 0.52, 32: 0.76, 64: 0.81, 128: 0.91, 1024: 1.0 },
  'IX-10': { 1: 1.65, 2: 2.82, 8: 6.18, 32: 8.17, 64: 8.48, 128: 8.64, 1024: 8.78 },
  'IX-40': { 1: 3.76, 2: 6.06, 8: 7.32, 32: 11.36, 64: 11.55, 128: 11.77, 1024: 11.49 },
};
const FIG3C: Record<string, Record<number, number>> = {
  'Linux-10': { 64: 0.1, 256: 0.38, 1024: 1.45, 4096: 3.71, 8192: 5.72 },
  'IX-10': { 64: 0.84, 256: 3.22, 1024: 7.05, 4096: 8.56, 8192: 8.74 },
  'IX-40': { 64: 1.92, 256: 8.16, 1024: 27.48, 4096: 34.24, 8192: 34.52 },
};
const SRC3A = 'IX Fig. 3a (authors\' data), n = 1, 64 B, at 2·cores hyperthreads';
const SRC3 = 'IX Fig. 3 (authors\' data) with all 8 cores, ÷ 8 for one core (IX-10\'s is bound by the 10 GbE line rate from n = 8 on, so ÷ 8 understates one IX core there; IX-40 is four 10 GbE ports in the paper, one 40 Gb/s port here)';

/** Fig. 3a's cores, and the connection slots per core of the n = 1 runs (each slot opens a connection per message). */
const CORES = [1, 2, 4] as const;
const N1 = { slotsPerCore: 16, messagesPerSlot: 24 } as const;
/** Fig. 3b's round trips per connection (kept: the paper's 1024), one core. */
const ROUND_TRIPS = [2, 8, 64] as const;
/** Fig. 3c's message sizes, n = 1, one core. */
const SIZES = [256, 1024, 4096, 8192] as const;
/** Fig. 2's message sizes (64 B is the pingpong row); Linux goes further, it needs larger messages for 5 Gb/s. */
const NETPIPE_IX = [4096, 16384, 65536] as const;
const NETPIPE_LINUX = [4096, 65536, 262144] as const;
const GBPS_TARGET = 5;

export interface IxSeriesInputs {
  /** The pingpong row's one-way latencies at 64 B (µs), reused as Fig. 2's first point. */
  readonly pingpong64: { linux: number; ix: number };
  /** The one-core n = 1 echo rows (M msgs/s), reused as the first point of Fig. 3a and 3b. */
  readonly echoN1: { linux: number; ix: number; linuxCounts: Record<string, number>; ixCounts: Record<string, number> };
  /** The one-core kept-connection echo rows (n = 1024 in the paper). */
  readonly echoKept: { linux: number; ix: number; linuxCounts: Record<string, number>; ixCounts: Record<string, number> };
  /** The kept-connection row's experiment (IX-40 runs it again on a 40 Gb/s port). */
  readonly keptOptions: { readonly connections: number; readonly roundTrips: number; readonly messageBytes: number };
}

/** Steps `ixFigureSeries` reports. */
export const IX_SERIES_STEPS = 4;

/**
 * The series of IX Figs. 2 and 3, each point a model run drawn against the paper's series:
 * 3a echo throughput against server cores (n = 1, 64 B) for Linux-10, IX-10 and IX-40; 3b
 * against round trips per connection and 3c against message size on one core, for the same three; 2, NetPIPE goodput
 * against message size, and the size that reaches 5 Gb/s. IX-40 is one port at 40 Gb/s (the
 * model's 82599 with its line rate raised, and the client's port at 40 Gb/s too), standing for
 * the paper's four 10 GbE ports.
 */
export function ixFigureSeries(ctx: BenchContext, inputs: IxSeriesInputs): BenchRow[] {
  const rows: BenchRow[] = [];
  const profile = ctx.profile;

  // IX-40's one-core n = 1 point: Fig. 3a runs it (no row above has a 40 Gb/s port), 3b and 3c reuse it.
  let ix40N1: { value: number; counts: Record<string, number> } | undefined;
  // Fig. 3a: cores.
  for (const series of ['Linux-10', 'IX-10', 'IX-40'] as const) {
    for (const cores of CORES) {
      const slots = N1.slotsPerCore * cores;
      let value: number;
      let counts: Record<string, number>;
      let seconds: number;
      if (cores === 1 && series !== 'IX-40') {
        value = series === 'Linux-10' ? inputs.echoN1.linux : inputs.echoN1.ix;
        counts = series === 'Linux-10' ? inputs.echoN1.linuxCounts : inputs.echoN1.ixCounts;
        seconds = NaN;
      } else {
        const o = { profile, connections: slots, roundTrips: N1.messagesPerSlot, perConnection: 1, messageBytes: 64 };
        if (series === 'Linux-10') {
          const e = runEchoExperiment({ ...o, server: ECHO_LINUX, cpus: cores });
          value = e.messagesPerSecond / 1e6;
          counts = e.perMessage;
          seconds = Math.ceil(slots * N1.messagesPerSlot * 0.9) / e.messagesPerSecond;
        } else {
          const e = runIxEcho({ ...o, echoIx: ECHO_IX, cores, bitsPerSecond: series === 'IX-40' ? 40e9 : undefined });
          value = e.messagesPerSecond / 1e6;
          counts = { ...ixCounts(e.perMessage), ...perThread(e.serverOutput) };
          seconds = e.measuredSeconds;
          if (series === 'IX-40' && cores === 1) ix40N1 = { value, counts };
        }
      }
      rows.push({
        id: `fig3a:${series}:cores=${cores}`, unit: 'M msgs/s', value,
        description: `${series}, ${cores} server core${cores > 1 ? 's' : ''}, n = 1 (a connection per message, reset by the client), 64 B, ${slots} connection slots × ${N1.messagesPerSlot} messages${Number.isFinite(seconds) ? `, ${(seconds * 1e3).toFixed(2)} ms simulated` : ' (the echo-n1-64b row)'}`,
        series: { name: `Fig. 3a ${series}`, x: cores, xUnit: 'server cores' },
        paper: paperOf(series, FIG3A[series]![cores], SRC3A),
        counts,
      });
    }
  }
  ctx.progress('fig. 3a');

  // Fig. 3b: round trips per connection, one core.
  for (const series of ['Linux-10', 'IX-10', 'IX-40'] as const) {
    const bitsPerSecond = series === 'IX-40' ? 40e9 : undefined;
    const points: Array<[number, number, Record<string, number>, string]> = [
      series === 'IX-40'
        ? [1, ix40N1!.value, ix40N1!.counts, 'the fig3a:IX-40:cores=1 row']
        : [1, series === 'Linux-10' ? inputs.echoN1.linux : inputs.echoN1.ix, series === 'Linux-10' ? inputs.echoN1.linuxCounts : inputs.echoN1.ixCounts, 'the echo-n1-64b row'],
    ];
    for (const n of ROUND_TRIPS) {
      const o = { profile, connections: 16, roundTrips: Math.max(2 * n, 32), perConnection: n, messageBytes: 64 };
      const e = series === 'Linux-10' ? runEchoExperiment({ ...o, server: ECHO_LINUX, cpus: 1 }) : runIxEcho({ ...o, echoIx: ECHO_IX, bitsPerSecond });
      const counts = 'threads' in e ? ixCounts(e.perMessage) : e.perMessage;
      points.push([n, e.messagesPerSecond / 1e6, counts, `16 connection slots × ${o.roundTrips} messages, ${((Math.ceil(16 * o.roundTrips * 0.9) / e.messagesPerSecond) * 1e3).toFixed(2)} ms simulated`]);
    }
    if (series === 'IX-40') {
      const e = runIxEcho({ profile, ...inputs.keptOptions, echoIx: ECHO_IX, bitsPerSecond });
      points.push([1024, e.messagesPerSecond / 1e6, ixCounts(e.perMessage), `connections kept: the echo-n1024-64b row's run on a 40 Gb/s port, ${(e.measuredSeconds * 1e3).toFixed(2)} ms simulated`]);
    } else {
      points.push([1024, series === 'Linux-10' ? inputs.echoKept.linux : inputs.echoKept.ix, series === 'Linux-10' ? inputs.echoKept.linuxCounts : inputs.echoKept.ixCounts, 'connections kept: the echo-n1024-64b row']);
    }
    for (const [n, value, counts, how] of points) {
      rows.push({
        id: `fig3b:${series}:n=${n}`, unit: 'M msgs/s', value,
        description: `${series}, one server core, ${n} round trips per connection, 64 B (${how})`,
        series: { name: `Fig. 3b ${series}, 1 core`, x: n, xUnit: 'round trips per connection' },
        paper: paperOf(series, FIG3B[series]![n] === undefined ? undefined : FIG3B[series]![n]! / 8, SRC3),
        counts,
      });
    }
  }
  ctx.progress('fig. 3b');

  // Fig. 3c: message size, n = 1, one core; goodput is the echoed payload one way.
  for (const series of ['Linux-10', 'IX-10', 'IX-40'] as const) {
    const bitsPerSecond = series === 'IX-40' ? 40e9 : undefined;
    const points: Array<[number, number, Record<string, number>, string]> = [
      series === 'IX-40'
        ? [64, ix40N1!.value, ix40N1!.counts, 'the fig3a:IX-40:cores=1 row']
        : [64, series === 'Linux-10' ? inputs.echoN1.linux : inputs.echoN1.ix, series === 'Linux-10' ? inputs.echoN1.linuxCounts : inputs.echoN1.ixCounts, 'the echo-n1-64b row'],
    ];
    for (const size of SIZES) {
      const o = { profile, connections: 16, roundTrips: 16, perConnection: 1, messageBytes: size };
      const e = series === 'Linux-10' ? runEchoExperiment({ ...o, server: ECHO_LINUX, cpus: 1 }) : runIxEcho({ ...o, echoIx: ECHO_IX, bitsPerSecond });
      const counts = 'threads' in e ? ixCounts(e.perMessage) : e.perMessage;
      points.push([size, e.messagesPerSecond / 1e6, counts, `16 connection slots × 16 messages, ${((Math.ceil(16 * 16 * 0.9) / e.messagesPerSecond) * 1e3).toFixed(2)} ms simulated`]);
    }
    for (const [size, mps, counts, how] of points) {
      rows.push({
        id: `fig3c:${series}:s=${size}`, unit: 'Gb/s', value: (mps * 1e6 * size * 8) / 1e9,
        description: `${series}, one server core, n = 1, ${size} B messages: goodput = messages/s × size (${how})`,
        series: { name: `Fig. 3c ${series}, 1 core`, x: size, xUnit: 'message size (bytes)' },
        paper: paperOf(series, FIG3C[series]![size]! / 8, SRC3),
        counts: { ...counts, messagesPerSecond: mps * 1e6 },
      });
    }
  }
  ctx.progress('fig. 3c');

  // Fig. 2: NetPIPE goodput, the same OS at both ends.
  for (const series of ['Linux', 'IX'] as const) {
    const sizes = series === 'Linux' ? NETPIPE_LINUX : NETPIPE_IX;
    const points: Array<[number, number, Record<string, number>, string]> = [
      [64, series === 'Linux' ? inputs.pingpong64.linux : inputs.pingpong64.ix, {}, 'the pingpong-64b row'],
    ];
    for (const size of sizes) {
      const rt: [number, number] = size >= 262144 ? [1, 3] : size >= 16384 ? [2, 6] : [4, 12];
      const r = series === 'Linux'
        ? runNetpipe({ profile, echoserver: ECHO_LINUX, messageBytes: size, roundTrips: rt })
        : runIxNetpipe({ profile, echoIx: ECHO_IX, messageBytes: size, roundTrips: rt });
      const counts = series === 'Linux' ? (r.perRoundTrip as Record<string, number>) : ixCounts(r.perRoundTrip as IxMechanismCounts);
      points.push([size, r.oneWayUs, counts, `the difference of ${rt[1]} and ${rt[0]} round trips`]);
    }
    const gbps = points.map(([size, us]) => (size * 8) / (us * 1e3));
    for (let i = 0; i < points.length; i++) {
      const [size, us, counts, how] = points[i]!;
      rows.push({
        id: `fig2:${series}:s=${size}`, unit: 'Gb/s', value: gbps[i]!,
        description: `NetPIPE ${series}–${series}, ${size} B messages: goodput = size ÷ one-way time (${us.toFixed(2)} µs; ${how})`,
        series: { name: `Fig. 2 ${series}`, x: size, xUnit: 'message size (bytes)' },
        counts: { ...counts, oneWayUs: us },
      });
    }
    const at = crossing(points.map((p) => p[0]), gbps, GBPS_TARGET);
    rows.push({
      id: `fig2:${series}:size-for-5gbps`, unit: 'KB', value: at === undefined ? undefined : at / 1000,
      description: `NetPIPE ${series}–${series}: the message size whose goodput reaches ${GBPS_TARGET} Gb/s (half the line rate), interpolated between the measured sizes on a log scale${at === undefined ? `; not reached up to ${points[points.length - 1]![0]} B (${gbps[gbps.length - 1]!.toFixed(2)} Gb/s)` : ''}`,
      paper: series === 'Linux' ? { linux: 385, source: 'IX Fig. 2: Linux reaches 5 Gb/s at 385 KB' } : { dune: 20, source: 'IX Fig. 2: IX reaches 5 Gb/s at 20 KB' },
      note: at === undefined ? 'not reached in the sizes measured' : undefined,
    });
  }
  ctx.progress('fig. 2');
  return rows;
}

function paperOf(series: string, v: number | undefined, source: string): BenchRow['paper'] {
  if (v === undefined) return undefined;
  return series.startsWith('Linux') ? { linux: v, source } : { dune: v, source };
}

function ixCounts(m: IxMechanismCounts): Record<string, number> {
  return { ...m };
}

/** echo-ix's "per thread a b c" line: the messages each core served (how RSS spread the connections). */
function perThread(output: string): Record<string, number> {
  const m = /per thread ([\d ]+)/.exec(output);
  const o: Record<string, number> = {};
  if (m !== null) m[1]!.trim().split(' ').forEach((v, i) => (o[`messagesCore${i}`] = Number(v)));
  return o;
}

/** The x at which y first reaches `target`, interpolated linearly in log x; undefined if it never does. */
export function crossing(xs: readonly number[], ys: readonly number[], target: number): number | undefined {
  for (let i = 0; i < xs.length; i++) {
    if (ys[i]! < target) continue;
    if (i === 0) return xs[0];
    const [x0, x1, y0, y1] = [Math.log(xs[i - 1]!), Math.log(xs[i]!), ys[i - 1]!, ys[i]!];
    return Math.exp(x0 + ((target - y0) / (y1 - y0)) * (x1 - x0));
  }
  return undefined;
}
