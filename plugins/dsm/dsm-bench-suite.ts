import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { DSM_MANAGERS, DSM_MODES, DsmManager, DsmMode, DsmRun, runDsmChecked } from './dsm-cluster.js';
import { BENCH_ARGS, DESCRIPTION, DSM_PROGRAMS, DsmProgram, round, traffic } from './dsm-programs.js';
import { tcpSegmentWireBytes, wireBytes } from '../../core/vtx/devices/ethernet-wire.js';

export const SPEEDUP_NODES = [2, 4, 8] as const;
/** Remote write faults the fault-latency row averages over. */
export const FAULTLAT_PAGES = 64;
/** The fault-latency columns: each fault path with its own messaging, and Dune on sockets for comparison. */
const LATENCY_PATHS = [
  { key: 'linux', mode: 'linux', net: 'socket' },
  { key: 'dune', mode: 'dune', net: 'nic' },
  { key: 'duneSockets', mode: 'dune', net: 'socket' },
] as const;

interface FaultLatency {
  us: number;
  trapUs: number;
  protocolUs: number;
  networkUs: number;
  waitUs: number;
  /** Of the network part: the requester's sends (request, confirmation), and its receiving after the wait (the reply's data). */
  sendUs: number;
  recvUs: number;
  /** The owner's work per request, from the forwarded request to the page sent (node 0's serve_cycles). */
  ownerServeUs: number;
  /** The frames' time on the wire: the request one way and the page the other, at line rate, plus each wire's propagation. */
  lineUs: number;
  msgsPerFault: number;
  bytesPerFault: number;
  /** System calls and VM exits of the requester per fault. */
  syscallsPerFault: number;
  vmExitsPerFault: number;
}

const LINE_BPS = 10e9;
const PROPAGATION_US = 0.5;
const MTU = 1500;
const HEADER = 32;
const PAGE = 4096;
/** TCP's segment size on these ports: the MTU less the IPv4 and TCP headers (no options). */
const TCP_MSS = MTU - 40;

/** Line time of one DSM request and one page reply, as the transport frames them (µs). */
function lineUs(nic: boolean): number {
  const us = (bytes: number): number => (bytes * 8 * 1e6) / LINE_BPS;
  const page = HEADER + PAGE;
  let reply = 0;
  if (nic) {
    for (let left = PAGE; left > 0; left -= MTU - HEADER) reply += wireBytes(HEADER + Math.min(left, MTU - HEADER));
    return round(us(wireBytes(HEADER)) + us(reply) + 2 * PROPAGATION_US, 3);
  }
  for (let left = page; left > 0; left -= TCP_MSS) reply += tcpSegmentWireBytes(Math.min(left, TCP_MSS));
  return round(us(tcpSegmentWireBytes(HEADER)) + us(reply) + 2 * PROPAGATION_US, 3);
}

/** faultlat's figures (node 1's report and both nodes' counters). */
function faultLatency(r: DsmRun, nic: boolean, before?: DsmRun): FaultLatency {
  const out = r.nodes[1]!.stdout;
  const num = (name: string): number => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(out);
    if (m === null) throw new Error(`faultlat: node 1 printed no ${name}:\n${out}`);
    return Number(m[1]);
  };
  const faults = num('faults');
  const us = (cycles: number): number => round((cycles / faults / r.clockHz) * 1e6, 3);
  const total = num('fault_total_cycles'), handler = num('fault_handler_cycles'), net = num('fault_net_cycles');
  const wait = num('fault_wait_cycles'), send = num('fault_send_cycles');
  const s0 = r.nodes[0]!.stats!;
  const t = traffic(r);
  const n1 = r.nodes[1]!;
  const b1 = before?.nodes[1];
  const perFault = (now: number, then: number | undefined, faultsThen: number): number =>
    then === undefined ? NaN : round((now - then) / (faults - faultsThen), 3);
  const faultsBefore = before === undefined ? 0 : Number(/^faults (\d+)$/m.exec(before.nodes[1]!.stdout)![1]);
  return {
    us: us(total), trapUs: us(total - handler), protocolUs: us(handler - net), networkUs: us(net), waitUs: us(wait),
    sendUs: us(send), recvUs: us(net - wait - send),
    ownerServeUs: round((s0.serve_cycles / Math.max(1, s0.requests_served) / r.clockHz) * 1e6, 3),
    lineUs: lineUs(nic),
    msgsPerFault: t.msgsPerFault, bytesPerFault: t.bytesPerFault,
    syscallsPerFault: perFault(n1.syscalls, b1?.syscalls, faultsBefore),
    vmExitsPerFault: perFault(n1.vmExits, b1?.vmExits, faultsBefore),
  };
}

/** The fault-latency row's counts for one column. */
function latencyCounts(prefix: string, l: FaultLatency): Record<string, number> {
  return {
    [`${prefix}.trapUs`]: l.trapUs, [`${prefix}.protocolUs`]: l.protocolUs, [`${prefix}.networkUs`]: l.networkUs,
    [`${prefix}.sendUs`]: l.sendUs, [`${prefix}.waitUs`]: l.waitUs, [`${prefix}.recvUs`]: l.recvUs,
    [`${prefix}.ownerServeUs`]: l.ownerServeUs, [`${prefix}.lineUs`]: l.lineUs,
    [`${prefix}.syscallsPerFault`]: l.syscallsPerFault, [`${prefix}.vmExitsPerFault`]: l.vmExitsPerFault,
  };
}

/**
 * `dunesim bench dsm`: page-based DSM on simulated machines (one CPU each, 10 GbE through a
 * switch), the same C protocol under the Linux fault path (SIGSEGV + mprotect) and the Dune one
 * (ring-0 #PF, PTE writes, INVLPG, and its messages on a NIC queue from ring 0). No paper has these figures: there is no Dune DSM upstream, and
 * every figure is a prediction of the profile's primitives and the Linux model's network paths.
 */
@injectable()
export class DsmBenchSuite implements BenchSuite {
  readonly id = 'dsm';
  readonly description = 'page-based DSM (IVY, write-invalidate): remote fault latency and its breakdown, speedups of jacobi, matmul, mergesort, falseshare on 2-8 nodes, Linux vs Dune fault paths';
  /** The managers measured (both; a script may split the suite over processes by manager). */
  managers: readonly DsmManager[] = DSM_MANAGERS;

  get steps(): number {
    return this.managers.length * (LATENCY_PATHS.length + DSM_PROGRAMS.length * DSM_MODES.length * (1 + SPEEDUP_NODES.length));
  }

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const curves: BenchRow[] = [];
    for (const manager of this.managers) {
      const suffix = manager === 'central' ? '' : '-distributed';
      const lat = {} as Record<(typeof LATENCY_PATHS)[number]['key'], FaultLatency>;
      for (const p of LATENCY_PATHS) {
        const run = (pages: number): DsmRun =>
          runDsmChecked({ profile: ctx.profile, program: 'faultlat', args: [String(pages)], nodes: 2, mode: p.mode, manager, env: { DSM_NET: p.net } });
        lat[p.key] = faultLatency(run(FAULTLAT_PAGES), p.net === 'nic', run(FAULTLAT_PAGES / 2));
        ctx.progress(`fault-latency ${p.key} ${manager}`);
      }
      const { linux: L, dune: D, duneSockets: S } = lat;
      rows.push({
        id: `fault-latency${suffix}`, unit: 'µs',
        description: `remote write fault, node 1 writing ${FAULTLAT_PAGES} pages node 0 owns (${manager} manager${manager === 'central' ? ' on node 0' : ': node 1 manages the odd pages'}); dune talks to the NIC from ring 0, linux through sockets`,
        linux: L.us, dune: D.us,
        counts: { ...latencyCounts('linux', L), ...latencyCounts('dune', D), 'duneSockets.us': S.us, ...latencyCounts('duneSockets', S) },
        note: 'trap: fault to handler and back (SIGSEGV + sigreturn, or #PF + IRETQ); protocol: the handler\'s own work (state, mprotect or PTE + INVLPG); network: send + wait + recv, the wait holding the line time and the owner\'s receive, serve and send; duneSockets: the Dune fault path with its messages through VMCALL\'d socket calls; per-fault system calls and VM exits are per faultlat page (node 1: one write fault and one read-back served)',
      });
      if (manager === 'central') {
        for (const [part, key] of [['trap', 'trapUs'], ['protocol', 'protocolUs'], ['network', 'networkUs']] as const) {
          rows.push({ id: `fault-latency-${part}`, unit: 'µs', description: `remote write fault: the ${part === 'trap' ? 'local trap' : part} part`, linux: L[key], dune: D[key] });
        }
      }
      rows.push({ id: `msgs-per-fault${suffix}`, unit: 'messages', description: `coherence messages per remote write fault (faultlat, ${manager} manager)`, linux: L.msgsPerFault, dune: D.msgsPerFault });
      rows.push({ id: `bytes-per-fault${suffix}`, unit: 'bytes', description: `coherence bytes per remote write fault (DSM headers and pages; TCP/IP or Ethernet framing not counted; ${manager} manager)`, linux: L.bytesPerFault, dune: D.bytesPerFault });

      for (const p of DSM_PROGRAMS) {
        const single = {} as Record<DsmMode, DsmRun>;
        const runs = {} as Record<number, Record<DsmMode, DsmRun>>;
        for (const mode of DSM_MODES) {
          single[mode] = this.once(ctx, p, 1, mode, manager);
          for (const n of SPEEDUP_NODES) (runs[n] ??= {} as Record<DsmMode, DsmRun>)[mode] = this.once(ctx, p, n, mode, manager);
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
          rows.push({ id: `speedup-${p}-${n}${suffix}`, unit: 'speedup', description: `${DESCRIPTION[p]}: one node's time / ${n} nodes' time (${manager} manager)`, linux: sp('linux'), dune: sp('dune'), counts });
          for (const m of DSM_MODES) curves.push({ id: `curve-${p}-${m}-${n}${suffix}`, unit: 'speedup over one node', value: sp(m), series: { name: `${p} ${m}${suffix ? ' distributed' : ''}`, x: n, xUnit: 'nodes' } });
        }
      }
    }
    rows.push(...curves);
    return {
      suite: this.id,
      profile: ctx.profile,
      rows,
      meta: {
        programs: 'plugins/dsm/programs/bin', args: BENCH_ARGS, nodes: 'one CPU each, 256 MiB, 82599 port, 10 GbE wires of 0.5 µs to a switch (0.5 µs fabric) above two nodes',
        managers: 'central (node 0) and fixed distributed (page mod N)',
        messaging: 'linux: TCP sockets of the Linux model; dune: raw Ethernet frames (EtherType 0x88b5) on queue 15 of the node\'s 82599, driven from guest ring 0 (lib/dsm_nic.c); duneSockets counts: the Dune fault path on sockets (VMCALLs)',
        timing: 'TSC cycles of node 0 over the parallel part (after each node has its initial data), at the profile clock',
      },
    };
  }

  private once(ctx: BenchContext, p: DsmProgram, nodes: number, mode: DsmMode, manager: DsmManager): DsmRun {
    const r = runDsmChecked({ profile: ctx.profile, program: p, args: BENCH_ARGS[p], nodes, mode, manager });
    ctx.progress(`${p} ${nodes} ${mode} ${manager}`);
    return r;
  }
}
