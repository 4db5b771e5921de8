import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { DSM_MODES, DsmMode, DsmRun, runDsmChecked } from './dsm-cluster.js';
import { BENCH_ARGS, DESCRIPTION, DSM_PROGRAMS, DsmProgram, round, traffic } from './dsm-programs.js';

export const SPEEDUP_NODES = [2, 4, 8] as const;
/** Remote write faults the fault-latency row averages over. */
export const FAULTLAT_PAGES = 64;

interface FaultLatency {
  us: number;
  trapUs: number;
  protocolUs: number;
  networkUs: number;
  waitUs: number;
  msgsPerFault: number;
  bytesPerFault: number;
}

/** faultlat's figures (node 1's report and both nodes' counters). */
function faultLatency(r: DsmRun): FaultLatency {
  const out = r.nodes[1]!.stdout;
  const num = (name: string): number => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(out);
    if (m === null) throw new Error(`faultlat: node 1 printed no ${name}:\n${out}`);
    return Number(m[1]);
  };
  const faults = num('faults');
  const us = (cycles: number): number => round((cycles / faults / r.clockHz) * 1e6, 3);
  const total = num('fault_total_cycles'), handler = num('fault_handler_cycles'), net = num('fault_net_cycles');
  const t = traffic(r);
  return {
    us: us(total), trapUs: us(total - handler), protocolUs: us(handler - net), networkUs: us(net), waitUs: us(num('fault_wait_cycles')),
    msgsPerFault: t.msgsPerFault, bytesPerFault: t.bytesPerFault,
  };
}

/**
 * `dunesim bench dsm`: page-based DSM on simulated machines (one CPU each, 10 GbE through a
 * switch), the same C protocol under the Linux fault path (SIGSEGV + mprotect) and the Dune one
 * (ring-0 #PF, PTE writes, INVLPG). No paper has these figures: there is no Dune DSM upstream, and
 * every figure is a prediction of the profile's primitives and the Linux model's network paths.
 */
@injectable()
export class DsmBenchSuite implements BenchSuite {
  readonly id = 'dsm';
  readonly description = 'page-based DSM (IVY, write-invalidate): remote fault latency and its breakdown, speedups of jacobi, matmul, mergesort, falseshare on 2-8 nodes, Linux vs Dune fault paths';
  readonly steps = DSM_MODES.length * (1 + DSM_PROGRAMS.length * (1 + SPEEDUP_NODES.length));

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const lat = {} as Record<DsmMode, FaultLatency>;
    for (const mode of DSM_MODES) {
      const r = runDsmChecked({ profile: ctx.profile, program: 'faultlat', args: [String(FAULTLAT_PAGES)], nodes: 2, mode, manager: 'central' });
      lat[mode] = faultLatency(r);
      ctx.progress(`fault-latency ${mode}`);
    }
    const { linux: L, dune: D } = lat;
    rows.push({
      id: 'fault-latency', unit: 'µs',
      description: `remote write fault, node 1 writing ${FAULTLAT_PAGES} pages node 0 owns (request, page with ownership, confirmation; central manager on node 0)`,
      linux: L.us, dune: D.us,
      counts: {
        'linux.trapUs': L.trapUs, 'linux.protocolUs': L.protocolUs, 'linux.networkUs': L.networkUs, 'linux.waitUs': L.waitUs,
        'dune.trapUs': D.trapUs, 'dune.protocolUs': D.protocolUs, 'dune.networkUs': D.networkUs, 'dune.waitUs': D.waitUs,
      },
      note: 'local trap: fault to handler and back (SIGSEGV delivery + sigreturn, or #PF + IRETQ); protocol: the handler\'s own work (state, mprotect or PTE+INVLPG); network: socket calls (VMCALLs inside Dune) and waiting for the owner\'s reply',
    });
    for (const [part, key] of [['trap', 'trapUs'], ['protocol', 'protocolUs'], ['network', 'networkUs']] as const) {
      rows.push({ id: `fault-latency-${part}`, unit: 'µs', description: `remote write fault: the ${part === 'trap' ? 'local trap' : part} part`, linux: L[key], dune: D[key] });
    }
    rows.push({ id: 'msgs-per-fault', unit: 'messages', description: 'coherence messages per remote write fault (faultlat)', linux: L.msgsPerFault, dune: D.msgsPerFault });
    rows.push({ id: 'bytes-per-fault', unit: 'bytes', description: 'coherence bytes per remote write fault (DSM headers and pages; TCP/IP/Ethernet framing not counted)', linux: L.bytesPerFault, dune: D.bytesPerFault });

    const curves: BenchRow[] = [];
    for (const p of DSM_PROGRAMS) {
      const single = {} as Record<DsmMode, DsmRun>;
      const runs = {} as Record<number, Record<DsmMode, DsmRun>>;
      for (const mode of DSM_MODES) {
        single[mode] = this.once(ctx, p, 1, mode);
        for (const n of SPEEDUP_NODES) (runs[n] ??= {} as Record<DsmMode, DsmRun>)[mode] = this.once(ctx, p, n, mode);
      }
      for (const n of SPEEDUP_NODES) {
        const sp = (m: DsmMode): number => round(single[m].cycles / runs[n]![m].cycles, 3);
        const tl = traffic(runs[n]!.linux), td = traffic(runs[n]!.dune);
        const counts: Record<string, number> = {};
        for (const [k, v] of Object.entries(tl)) counts[`linux.${k}`] = v;
        for (const [k, v] of Object.entries(td)) counts[`dune.${k}`] = v;
        counts['linux.ms'] = round((runs[n]!.linux.cycles / runs[n]!.linux.clockHz) * 1e3, 3);
        counts['dune.ms'] = round((runs[n]!.dune.cycles / runs[n]!.dune.clockHz) * 1e3, 3);
        counts['linux.ms1'] = round((single.linux.cycles / single.linux.clockHz) * 1e3, 3);
        counts['dune.ms1'] = round((single.dune.cycles / single.dune.clockHz) * 1e3, 3);
        rows.push({ id: `speedup-${p}-${n}`, unit: 'speedup', description: `${DESCRIPTION[p]}: one node's time / ${n} nodes' time`, linux: sp('linux'), dune: sp('dune'), counts });
        for (const m of DSM_MODES) curves.push({ id: `curve-${p}-${m}-${n}`, unit: 'speedup over one node', value: sp(m), series: { name: `${p} ${m}`, x: n, xUnit: 'nodes' } });
      }
    }
    rows.push(...curves);
    return {
      suite: this.id,
      profile: ctx.profile,
      rows,
      meta: {
        programs: 'plugins/dsm/programs/bin', args: BENCH_ARGS, nodes: 'one CPU each, 256 MiB, 82599 port, 10 GbE wires of 0.5 µs to a switch (0.5 µs fabric) above two nodes',
        manager: 'central (node 0)', messaging: 'TCP sockets of the Linux model; inside Dune the same socket calls, passed to the host by VMCALL',
        timing: 'TSC cycles of node 0 over the parallel part (after each node has its initial data), at the profile clock',
      },
    };
  }

  private once(ctx: BenchContext, p: DsmProgram, nodes: number, mode: DsmMode): DsmRun {
    const r = runDsmChecked({ profile: ctx.profile, program: p, args: BENCH_ARGS[p], nodes, mode, manager: 'central' });
    ctx.progress(`${p} ${nodes} ${mode}`);
    return r;
  }
}
