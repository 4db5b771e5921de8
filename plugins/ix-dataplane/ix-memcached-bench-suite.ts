import { join } from 'node:path';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { GUEST_BIN } from '../../core/system/guest-programs.js';
import { MemcachedLoadPoint, MemcachedRig, SlaSearchResult, searchSlaThroughput } from '../../core/cluster/memcached-experiment.js';
import { ETC, MemcachedWorkload, USR } from '../../core/cluster/memcached-workload.js';
import { kernelShare } from '../../core/vtx/cpu-mode.js';
import { IX_BIN } from './ix-bench-suite.js';
import { ixMemcachedServer } from './ix-memcached-experiment.js';

const KV_LINUX = join(GUEST_BIN, 'kvserver');
export const KV_IX = join(IX_BIN, 'kvserver-ix');
/** Server cores simulated in Table 2's rows and Figs. 5 and 6: one. */
const CORES = 1;
/** The scaling row: USR at the SLA on this many server cores, both servers. */
const SCALE_CORES = 2;
/** The paper's best core counts (IX §5.5: Linux with 8, IX with 6); its throughputs are scaled by CORES over these. */
const PAPER_CORES_LINUX = 8;
const PAPER_CORES_IX = 6;
const SLA_US = 500;
/** The paper's 1,476 connections over 8 cores, per core (as bench memcached-linux). */
const CONNECTIONS = 184 * CORES;
const RECORDS = 200;
const UNLOADED_RATE = 10_000;
const UNLOADED_SECONDS = 0.02;
/**
 * Simulated seconds per load of an SLA search. The dataplane polls: every simulated ms is
 * executed, idle or not, so IX loads are shorter than Linux's (20 ms in bench memcached-linux);
 * at ~1M requests/s 4 ms still measures some 4,000 requests a load.
 */
const LINUX_SEARCH = { seconds: 0.01, startPerSecond: 20_000, growth: 1.5, refine: 3 } as const;
const IX_SEARCH = { seconds: 0.004, startPerSecond: 125_000, growth: 2, refine: 3 } as const;
const TABLE2 = 'IX Table 2 (memcached-1.4.18, mutilate, 1,476 connections; Linux best on 8 cores, IX on 6)';

interface Workload {
  readonly key: 'etc' | 'usr';
  readonly w: MemcachedWorkload;
  readonly paper: { linuxP99: number; ixP99: number; linuxKrps: number; ixKrps: number };
}

const WORKLOADS: readonly Workload[] = [
  { key: 'etc', w: ETC, paper: { linuxP99: 94, ixP99: 45, linuxKrps: 550, ixKrps: 1550 } },
  { key: 'usr', w: USR, paper: { linuxP99: 85, ixP99: 32, linuxKrps: 500, ixKrps: 1800 } },
];

/** IX Fig. 6: USR's throughput under the SLA by batch bound (the data files; B = 16 and the default are both 1,800K). */
const FIG6: readonly (readonly [number, number])[] = [[1, 1400], [2, 1650], [8, 1750], [16, 1800], [64, 1800]];

/**
 * `dunesim bench ix-memcached`, the memcached half of `bench ix`: IX Table 2, Fig. 5 and Fig. 6
 * with kvserver on one server core — examples/guest/kvserver on the Linux model (the `linux`
 * column, the rig of bench memcached-linux) and kvserver-ix, the same protocol source over
 * libix, on the IX dataplane (the `dune` column) — under the same mutilate-style client host:
 * unloaded p99, throughput at p99 < 500 µs, p99 against throughput, and the batch bound B.
 * Nothing is fitted to an IX figure; the Linux paths are pinned as bench net-linux says.
 */
@injectable()
export class IxMemcachedBenchSuite implements BenchSuite {
  readonly id = 'ix-memcached';
  readonly description = 'memcached (kvserver) on IX vs Linux, one server core: unloaded p99, throughput at p99 < 500 µs (IX Table 2), Fig. 5 and Fig. 6 (B); USR at the SLA on 2 cores';
  readonly steps = 2 * WORKLOADS.length + FIG6.length - 1 + 2;

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const usrByB = new Map<number, SlaSearchResult>();
    for (const wl of WORKLOADS) {
      const linux = new MemcachedRig({ profile: ctx.profile, server: KV_LINUX, cpus: CORES, workload: wl.w, connections: CONNECTIONS, records: RECORDS });
      const linuxIdle = linux.measure(UNLOADED_RATE, UNLOADED_SECONDS);
      const linuxSla = searchSlaThroughput(linux, { slaUs: SLA_US, ...LINUX_SEARCH });
      ctx.progress(`${wl.key} linux`);
      const ix = new MemcachedRig({ profile: ctx.profile, server: KV_IX, cpus: CORES, workload: wl.w, connections: CONNECTIONS, records: RECORDS, serverNode: ixMemcachedServer() });
      const ixIdle = ix.measure(UNLOADED_RATE, UNLOADED_SECONDS);
      const ixSla = searchSlaThroughput(ix, { slaUs: SLA_US, ...IX_SEARCH });
      if (wl.key === 'usr') usrByB.set(64, ixSla);
      ctx.progress(`${wl.key} ix`);
      rows.push({
        id: `memcached-${wl.key}-p99`, unit: 'µs', linux: linuxIdle.p99Us, dune: ixIdle.p99Us,
        description: `${wl.w.name}: p99 latency at a light load (${UNLOADED_RATE / 1000}K requests/s for ${UNLOADED_SECONDS * 1e3} ms: ${linuxIdle.completed} Linux, ${ixIdle.completed} IX requests)`,
        paper: { linux: wl.paper.linuxP99, dune: wl.paper.ixP99, source: `${TABLE2}; latencies are not scaled` },
        counts: { ...prefixed('linux', counts(linuxIdle)), ...prefixed('ix', ixCounts(ixIdle)) },
      });
      rows.push({
        id: `memcached-${wl.key}-sla`, unit: 'K req/s', linux: linuxSla.best.achievedPerSecond / 1000, dune: ixSla.best.achievedPerSecond / 1000,
        description: `${wl.w.name}: throughput at p99 < ${SLA_US} µs, ONE server core; Linux ${searched(linuxSla, LINUX_SEARCH.seconds)}, IX ${searched(ixSla, IX_SEARCH.seconds)}`,
        paper: {
          linux: (wl.paper.linuxKrps * CORES) / PAPER_CORES_LINUX, dune: (wl.paper.ixKrps * CORES) / PAPER_CORES_IX,
          source: `${TABLE2}: Linux ${wl.paper.linuxKrps}K ÷ ${PAPER_CORES_LINUX}, IX ${wl.paper.ixKrps}K ÷ ${PAPER_CORES_IX} for one core`,
        },
        counts: { ...prefixed('linux', counts(linuxSla.best)), ...prefixed('ix', ixCounts(ixSla.best)) },
      });
      // IX Fig. 5's axes: p99 against the throughput achieved, every load each search measured.
      for (const [who, s, secs] of [['Linux', linuxSla, LINUX_SEARCH.seconds], ['IX', ixSla, IX_SEARCH.seconds]] as const) {
        for (const p of [...s.points].sort((a, b) => a.offeredPerSecond - b.offeredPerSecond)) {
          rows.push({
            id: `fig5-${wl.key}-${who.toLowerCase()}@${(p.offeredPerSecond / 1000).toFixed(1)}K`, unit: 'µs p99', value: p.p99Us,
            description: `${wl.w.name} on ${who}: p99 at ${(p.offeredPerSecond / 1000).toFixed(1)}K requests/s offered for ${secs * 1e3} ms (${p.completed} requests)`,
            series: { name: `${wl.w.name} ${who}, 1 core`, x: p.achievedPerSecond / 1000, xUnit: 'K req/s' },
            counts: who === 'IX' ? ixCounts(p) : counts(p),
          });
        }
      }
    }
    for (const [b] of FIG6) {
      if (usrByB.has(b)) continue;
      const rig = new MemcachedRig({ profile: ctx.profile, server: KV_IX, cpus: CORES, workload: USR, connections: CONNECTIONS, records: RECORDS, serverNode: ixMemcachedServer({ batch: b }) });
      usrByB.set(b, searchSlaThroughput(rig, { slaUs: SLA_US, ...IX_SEARCH }));
      ctx.progress(`usr ix B=${b}`);
    }
    for (const [b, paper] of FIG6) {
      const s = usrByB.get(b)!;
      rows.push({
        id: `fig6-usr-sla@B=${b}`, unit: 'K req/s', dune: s.best.achievedPerSecond / 1000,
        description: `USR on IX with the batch bound B = ${b}: throughput at p99 < ${SLA_US} µs, one core; ${searched(s, IX_SEARCH.seconds)}`,
        paper: { dune: (paper * CORES) / PAPER_CORES_IX, source: `IX Fig. 6 (data files): ${paper}K at B = ${b} on 6 cores, ÷ ${PAPER_CORES_IX}` },
        counts: ixCounts(s.best),
      });
    }
    // Several cores: USR at the SLA with SCALE_CORES event loops on as many CPUs (Linux) and as many
    // elastic threads sharing one table (IX), the connections growing with the cores.
    {
      const cores = SCALE_CORES;
      const conns = CONNECTIONS * cores;
      const usr = WORKLOADS.find((w) => w.key === 'usr')!;
      const linux = new MemcachedRig({ profile: ctx.profile, server: KV_LINUX, cpus: cores, workload: USR, connections: conns, records: RECORDS });
      const linuxSla = searchSlaThroughput(linux, { slaUs: SLA_US, ...LINUX_SEARCH, startPerSecond: LINUX_SEARCH.startPerSecond * cores });
      ctx.progress(`usr linux ${cores} cores`);
      const ix = new MemcachedRig({ profile: ctx.profile, server: KV_IX, cpus: cores, workload: USR, connections: conns, records: RECORDS, serverNode: ixMemcachedServer() });
      const ixSla = searchSlaThroughput(ix, { slaUs: SLA_US, ...IX_SEARCH, startPerSecond: IX_SEARCH.startPerSecond * cores });
      ctx.progress(`usr ix ${cores} cores`);
      const one = rows.find((r) => r.id === 'memcached-usr-sla')!;
      rows.push({
        id: `memcached-usr-sla@${cores}cores`, unit: 'K req/s', linux: linuxSla.best.achievedPerSecond / 1000, dune: ixSla.best.achievedPerSecond / 1000,
        description: `USR: throughput at p99 < ${SLA_US} µs on ${cores} server cores (${conns} connections; one core: Linux ${(one.linux as number).toFixed(0)}K, IX ${(one.dune as number).toFixed(0)}K); Linux ${searched(linuxSla, LINUX_SEARCH.seconds)}, IX ${searched(ixSla, IX_SEARCH.seconds)}`,
        paper: {
          linux: (usr.paper.linuxKrps * cores) / PAPER_CORES_LINUX, dune: (usr.paper.ixKrps * cores) / PAPER_CORES_IX,
          source: `${TABLE2}: Linux ${usr.paper.linuxKrps}K × ${cores}/${PAPER_CORES_LINUX}, IX ${usr.paper.ixKrps}K × ${cores}/${PAPER_CORES_IX}`,
        },
        counts: { ...prefixed('linux', counts(linuxSla.best)), ...prefixed('ix', ixCounts(ixSla.best)) },
      });
    }
    // Fig. 6 as two lines over B: the model and the paper's per-core figures.
    for (const [b] of FIG6) {
      rows.push({
        id: `fig6-usr@B=${b}`, unit: 'K req/s at SLA', value: usrByB.get(b)!.best.achievedPerSecond / 1000,
        series: { name: 'USR IX, 1 core (model)', x: b, xUnit: 'batch bound B' },
      });
    }
    for (const [b, paper] of FIG6) {
      rows.push({
        id: `fig6-usr-paper@B=${b}`, unit: 'K req/s at SLA', value: (paper * CORES) / PAPER_CORES_IX,
        description: `the paper's Fig. 6 at B = ${b}, ${paper}K on 6 cores ÷ ${PAPER_CORES_IX}`,
        series: { name: 'USR IX, paper ÷ 6', x: b, xUnit: 'batch bound B' },
      });
    }
    return {
      suite: this.id, profile: ctx.profile, rows,
      columns: { linux: 'linux', dune: 'ix' },
      meta: {
        cores: `one server core in every row but memcached-usr-sla@${SCALE_CORES}cores: the Linux server with one CPU per epoll loop, IX with one elastic thread per core`,
        linux: 'examples/guest/kvserver on the Linux model: 82599 + ixgbe (EITR 40), NAPI, epoll, the kernel TCP/IP stack',
        ix: 'plugins/ix-dataplane/programs/bin/kvserver-ix (the same kv-protocol.c) over libix in guest ring 3; the dataplane in guest ring 0 on Dune, polling, B = 64 unless stated',
        clients: `one modelled host (no CPU cost), ${CONNECTIONS} connections pipelined up to 4 deep, open-loop Poisson arrivals, ${RECORDS} keys SET before measuring; 10 GbE, 0.5 µs wire`,
        scaling: `the paper's throughputs are per ${PAPER_CORES_LINUX} cores (Linux) and ${PAPER_CORES_IX} (IX), scaled by ${CORES}/${PAPER_CORES_LINUX} and ${CORES}/${PAPER_CORES_IX}; latencies are not scaled`,
      },
    };
  }
}

function searched(s: SlaSearchResult, seconds: number): string {
  return `${s.points.length} loads of ${seconds * 1e3} ms, ${s.points.reduce((a, p) => a + p.completed, 0)} requests`;
}

function base(p: MemcachedLoadPoint): Record<string, number> {
  return {
    offeredKrps: p.offeredPerSecond / 1000, achievedKrps: p.achievedPerSecond / 1000, p50Us: p.p50Us, p99Us: p.p99Us, meanUs: p.meanUs,
    requests: p.completed, hits: p.hits, misses: p.misses, errors: p.errors,
  };
}

function counts(p: MemcachedLoadPoint): Record<string, number> {
  return { ...p.perRequest, kernelShare: kernelShare(p.perRequest), ...base(p) };
}

/** The dataplane's counts per request, and per batch: packets per pass that took any, calls per bpoll. */
function ixCounts(p: MemcachedLoadPoint): Record<string, number> {
  const r = p.perRequest;
  return {
    ...base(p),
    packetsPerBatch: r.rxPackets! / Math.max(1e-12, r.rxBatches!),
    callsPerBatch: r.calls! / Math.max(1e-12, r.bpolls!),
    crossingsPerRequest: r.crossings!, vmExitsPerRequest: r.vmExits!, interruptsPerRequest: r.interrupts!,
    mmioWritesPerRequest: r.mmioWrites!, packetsPerRequest: r.rxPackets!,
    kernelCycles: r.kernelCycles!, userCycles: r.userCycles!, kernelShare: kernelShare(r),
    kernelInstructions: r.kernelInstructions!, userInstructions: r.userInstructions!,
  };
}

function prefixed(p: string, r: Record<string, number>): Record<string, number> {
  const o: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) o[`${p}.${k}`] = v;
  return o;
}
