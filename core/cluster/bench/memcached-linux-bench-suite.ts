import { join } from 'node:path';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { GUEST_BIN } from '../../system/guest-programs.js';
import { MemcachedLoadPoint, MemcachedRig, searchSlaThroughput } from '../memcached-experiment.js';
import { ETC, MemcachedWorkload, USR } from '../memcached-workload.js';
import { kernelShare } from '../../vtx/cpu-mode.js';

const KV = join(GUEST_BIN, 'kvserver');
/** Server cores simulated. The paper's Linux ran memcached on 8 cores; its throughput is scaled by this over 8. */
const CORES = 2;
const PAPER_CORES = 8;
const SLA_US = 500;
/** The paper's 1,476 connections over its 8 cores: the same number per core (how much pipelining a connection sees depends on it). */
const CONNECTIONS = 184 * CORES;
const RECORDS = 200;
/** Simulated seconds per load of the SLA search, and of the unloaded run (at UNLOADED_RATE). */
const SEARCH_SECONDS = 0.02;
const UNLOADED_RATE = 10_000;
const UNLOADED_SECONDS = 0.04;
const TABLE2 = 'IX Table 2 (memcached-1.4.18 on Linux 3.16, mutilate, 1,476 connections, 8 cores)';

interface Workload {
  readonly key: 'etc' | 'usr';
  readonly w: MemcachedWorkload;
  readonly paperP99: number;
  readonly paperKrps: number;
  /** The first load of the search (requests/s), well inside what one core serves. */
  readonly start: number;
}

const WORKLOADS: readonly Workload[] = [
  { key: 'etc', w: ETC, paperP99: 94, paperKrps: 550, start: 20_000 },
  { key: 'usr', w: USR, paperP99: 85, paperKrps: 500, start: 20_000 },
];

/**
 * `dunesim bench memcached-linux`: the Linux rows of the IX paper's memcached Table 2 with
 * examples/guest/kvserver (memcached's text protocol, an epoll loop per core) on a simulated
 * Linux machine, loaded by a modelled mutilate host over the simulated 10 GbE: the unloaded p99
 * and the throughput at p99 < 500 µs for Facebook's ETC and USR workloads. Nothing here is fitted:
 * the Linux paths' constants are those the net-linux rows pinned.
 */
@injectable()
export class MemcachedLinuxBenchSuite implements BenchSuite {
  readonly id = 'memcached-linux';
  readonly description = 'memcached (kvserver) on simulated Linux under a mutilate-style load: unloaded p99 and throughput at p99 < 500 µs, ETC and USR (IX Table 2)';
  readonly steps = 2 * WORKLOADS.length;

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const scale = CORES / PAPER_CORES;
    for (const wl of WORKLOADS) {
      const rig = new MemcachedRig({ profile: ctx.profile, server: KV, cpus: CORES, workload: wl.w, connections: CONNECTIONS, records: RECORDS });
      const idle = rig.measure(UNLOADED_RATE, UNLOADED_SECONDS);
      rows.push({
        id: `memcached-${wl.key}-p99`, unit: 'µs', value: idle.p99Us,
        description: `${wl.w.name}: p99 latency at a light load (${UNLOADED_RATE / 1000}K requests/s for ${UNLOADED_SECONDS * 1e3} ms, ${idle.completed} requests)`,
        paper: { linux: wl.paperP99, source: TABLE2 }, counts: counts(idle),
      });
      ctx.progress(`${wl.key} unloaded`);
      const s = searchSlaThroughput(rig, { slaUs: SLA_US, startPerSecond: wl.start, seconds: SEARCH_SECONDS });
      const measured = s.points.reduce((a, p) => a + p.completed, 0);
      rows.push({
        id: `memcached-${wl.key}-sla`, unit: 'K req/s', value: s.best.achievedPerSecond / 1000,
        description: `${wl.w.name}: throughput at p99 < ${SLA_US} µs, ${CORES} server cores (paper figure × ${CORES}/${PAPER_CORES}); ${s.points.length} loads of ${SEARCH_SECONDS * 1e3} ms, ${measured} requests`,
        paper: { linux: (wl.paperKrps * scale), source: `${TABLE2}: ${wl.paperKrps}K on ${PAPER_CORES} cores, × ${CORES}/${PAPER_CORES}` },
        counts: { ...counts(s.best), loads: s.points.length, requestsMeasured: measured },
      });
      // IX Fig. 5's axes: p99 against the throughput achieved, each load the search measured.
      for (const p of [...s.points].sort((a, b) => a.offeredPerSecond - b.offeredPerSecond)) {
        const krps = p.achievedPerSecond / 1000;
        rows.push({
          id: `memcached-${wl.key}-p99@${(p.offeredPerSecond / 1000).toFixed(1)}K`, unit: 'µs', value: p.p99Us,
          description: `${wl.w.name}: p99 at ${(p.offeredPerSecond / 1000).toFixed(1)}K requests/s offered for ${SEARCH_SECONDS * 1e3} ms (${p.completed} requests)`,
          series: { name: `${wl.w.name} Linux, ${CORES} core${CORES > 1 ? 's' : ''}: p99 vs throughput`, x: krps, xUnit: 'K req/s' },
          counts: { ...counts(p) },
        });
      }
      ctx.progress(`${wl.key} SLA`);
    }
    return {
      suite: this.id, profile: ctx.profile, rows,
      meta: {
        server: `examples/guest/kvserver on a simulated Linux machine, ${CORES} cores (an event loop on each), 82599 + ixgbe (EITR 40), --net sim`,
        clients: `one modelled host, ${CONNECTIONS} connections, pipelined up to 4 deep, open-loop Poisson arrivals, ${RECORDS} keys SET before measuring; 10 GbE, 0.5 µs wire`,
        scaling: `the paper's throughput (8 cores) is scaled by ${CORES}/${PAPER_CORES}; latencies are not scaled`,
      },
    };
  }
}

function counts(p: MemcachedLoadPoint): Record<string, number> {
  return {
    ...p.perRequest, offeredKrps: p.offeredPerSecond / 1000, achievedKrps: p.achievedPerSecond / 1000,
    p50Us: p.p50Us, meanUs: p.meanUs, requests: p.completed, hits: p.hits, misses: p.misses, errors: p.errors,
    kernelShare: kernelShare(p.perRequest),
  };
}
