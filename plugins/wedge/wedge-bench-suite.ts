import { inject, injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { loadProfile } from '../../core/vtx/cost-model.js';
import { System, vmExitCount } from '../../core/system/index.js';
import type { ExecResult } from '../../core/system/index.js';
import { benchRow, parseStats, runWedgeProgram } from './wedge-programs.js';
import { HTTP_WAYS, httpPerRequest } from './http-request-rows.js';
import { haveAb } from '../sandbox/httpd-rows.js';

/** Dune Table 5 (papers.md §1.7), in µs. */
const TABLE5 = { create: { linux: 81, dune: 2 }, ctx: { linux: 0.49, dune: 0.15 }, http: { linux: 454, dune: 362 } };
const SOURCE = 'Dune §6.3.2, Table 5';
/** Two sizes of each run: the per-operation counts are the difference over the difference. */
const CREATE_N = [20, 60] as const;
const CTX_N = [50, 150] as const;
/** Requests of the two wedgehttpd runs of each way. */
const HTTP_N = [10, 30] as const;
/** Iterations of each point of bench.c's mode 2. */
const PGSWITCH_ITERS = 50;

interface Measured {
  /** cycles per operation, from the program's RDTSC */
  cycles: number;
  /** per operation, from the machine's counters over the two runs */
  counts: Record<string, number>;
}

/**
 * `dunesim bench wedge`: Dune Table 5's create and ctx-switch rows with Wedge's own programs
 * (plugins/wedge/programs/wedgebench.c). The linux column is the fork implementation of the
 * same sthread API (what the paper's fork row measures), the dune column the sthread
 * implementation on libDune; both are predictions from the profile's primitives, never fitted
 * to the paper. Then bench.c's mode 2: touching 1..300 pages after no switch, a flushing CR3
 * switch and a PCID switch with CR3_NOFLUSH, as three series.
 */
@injectable()
export class WedgeBenchSuite implements BenchSuite {
  readonly id = 'wedge';
  readonly description = 'Wedge sthreads on libDune versus fork: Table 5 create and ctx switch, and the page-table switch curve (bench.c mode 2)';
  readonly steps = 3 + (haveAb() ? HTTP_WAYS.length : 0);

  constructor(@inject(System) private readonly system: System) {}

  run(ctx: BenchContext): BenchResult {
    const clockHz = loadProfile(ctx.profile).clockHz;
    const us = (cycles: number): number => Math.round((cycles / clockHz) * 1e6 * 1e4) / 1e4;
    const rows: BenchRow[] = [];

    const create = { fork: this.measure(ctx, 'create', 'fork', CREATE_N, 1), dune: this.measure(ctx, 'create', 'dune', CREATE_N, 1) };
    const pthreadCreate = this.measure(ctx, 'create', 'pthread', CREATE_N, 1);
    ctx.progress('create');
    rows.push({
      id: 'create',
      unit: 'µs',
      description: 'sthread_create + sthread_join of an empty sthread: a forked process vs a recycled Dune sthread',
      linux: us(create.fork.cycles),
      dune: us(create.dune.cycles),
      paper: { ...TABLE5.create, source: SOURCE },
      counts: { ...prefixed('fork', create.fork.counts), ...prefixed('dune', create.dune.counts), 'pthread.us': us(pthreadCreate.cycles) },
    });

    const sw = { fork: this.measure(ctx, 'ctx', 'fork', CTX_N, 2), dune: this.measure(ctx, 'ctx', 'dune', CTX_N, 2) };
    ctx.progress('ctx-switch');
    rows.push({
      id: 'ctx-switch',
      unit: 'µs',
      description: 'half a callgate round trip: two processes over pipes vs ring 3 → ring 0 → the gate\'s root (PCID, no flush) and back',
      linux: us(sw.fork.cycles),
      dune: us(sw.dune.cycles),
      paper: { ...TABLE5.ctx, source: SOURCE },
      counts: { ...prefixed('fork', sw.fork.counts), ...prefixed('dune', sw.dune.counts) },
    });

    if (haveAb()) rows.push(this.httpRow(ctx, us));
    else process.stderr.write('dunesim: bench wedge: ab (Debian package apache2-utils) is not installed; the http-request row is left out\n');

    const pg = runWedgeProgram(this.system, ctx.profile, 'wedgebench', ['pgswitch', String(PGSWITCH_ITERS)]);
    if (pg.exitCode !== 0) throw new Error(`wedgebench pgswitch exited with ${pg.exitCode}: ${pg.err}`);
    ctx.progress('pgswitch');
    const names = ['no switch', 'CR3 switch, flush', 'PCID switch, no flush'];
    for (const line of pg.out.split('\n').filter((l) => l.startsWith('pgswitch '))) {
      const [pages, iters, ...cycles] = line.split(' ').slice(1).map(Number);
      cycles.forEach((c, i) => rows.push({
        id: `mode2: ${pages} pages · ${names[i]}`,
        unit: 'cycles / iteration',
        description: `${names[i]}, then touch ${pages} pages`,
        value: c! / iters!,
        series: { name: names[i]!, x: pages!, xUnit: 'pages touched' },
      }));
    }
    return {
      suite: this.id, profile: ctx.profile, rows,
      columns: { linux: 'fork', dune: 'sthread' },
      meta: { createN: CREATE_N, ctxN: CTX_N, pgswitchIters: PGSWITCH_ITERS, clockHz },
    };
  }

  /**
   * Table 5's http request: wedgehttpd answering ab (one client) with each request handled
   * inline, in a pthread, a forked process or a Dune sthread granted only the socket. The model
   * gives the server's time per request; the paper's figure is the latency a client saw over a
   * LAN. As the sandbox suite does for Table 4, the testbed's part W (the wire, the client, the
   * kernels' network paths outside the server) is taken from the paper's fork column,
   * W = 454 µs − the fork server's time, and the sthread column is then predicted as W plus the
   * sthread server's time: only the difference between the two is the model's.
   */
  private httpRow(ctx: BenchContext, us: (cycles: number) => number): BenchRow {
    const per = Object.fromEntries(HTTP_WAYS.map((way) => {
      const r = httpPerRequest(this.system, ctx.profile, way, HTTP_N);
      ctx.progress(`http ${way}`);
      return [way, r];
    })) as Record<(typeof HTTP_WAYS)[number], ReturnType<typeof httpPerRequest>>;
    const w = TABLE5.http.linux - us(per.fork.cycles);
    const counts: Record<string, number> = { 'testbed.microseconds': round2(w) };
    for (const way of HTTP_WAYS) {
      counts[`${way}.serverMicroseconds`] = us(per[way].cycles);
      counts[`${way}.vmExits`] = round2(per[way].vmExits);
      counts[`${way}.tlbMisses`] = round2(per[way].tlbMisses);
    }
    counts.failedRequests = HTTP_WAYS.reduce((a, way) => a + per[way].failed, 0);
    return {
      id: 'http-request',
      unit: 'µs',
      description: 'a static page per request, handled in a forked process vs a Dune sthread granted only the socket (the testbed\'s round trip from the paper\'s fork column)',
      linux: round2(w + us(per.fork.cycles)),
      dune: round2(w + us(per.dune.cycles)),
      paper: { ...TABLE5.http, source: SOURCE },
      counts,
    };
  }

  /**
   * Cycles per operation from the program's own RDTSC rows (the difference of two sizes, so the
   * first, cold sthread and the setup drop out), and the mechanism counts per operation from the
   * machine's counters over the same two runs.
   */
  private measure(ctx: BenchContext, bench: 'create' | 'ctx', impl: string, n: readonly [number, number], perN: number): Measured {
    const runs = n.map((k) => {
      const r = runWedgeProgram(this.system, ctx.profile, 'wedgebench', ['--impl', impl, bench, String(k)]);
      if (r.exitCode !== 0) throw new Error(`wedgebench --impl ${impl} ${bench} ${k} exited with ${r.exitCode}: ${r.err}`);
      return r;
    });
    const id = bench === 'create' ? 'create' : 'ctx-switch';
    const [a, b] = runs.map((r) => benchRow(r.out, id, impl)[1]!);
    const ops = (n[1] - n[0]) * perN;
    const [sa, sb] = runs.map((r) => parseStats(r.out));
    const [ea, eb] = runs.map((r) => r.result);
    const counts: Record<string, number> = {
      tlbMisses: round2((tlbMisses(eb!) - tlbMisses(ea!)) / ops),
      vmExits: round2((vmExitCount(eb!) - vmExitCount(ea!)) / ops),
    };
    if (impl === 'dune' && bench === 'create') {
      const recycles = sb!.recycled! - sa!.recycled!;
      counts.pagesRestoredPerRecycle = round2((sb!.pages_restored! - sa!.pages_restored!) / recycles);
      counts.stackPagesZeroedPerRecycle = round2((sb!.stack_zeroed! - sa!.stack_zeroed!) / recycles);
    }
    return { cycles: (b! - a!) / ops, counts };
  }
}

function tlbMisses(r: ExecResult): number {
  return (r.stats as { tlb: { misses: number } }).tlb.misses;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function prefixed(p: string, c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [`${p}.${k}`, v]));
}
