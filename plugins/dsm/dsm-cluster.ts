import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { Cluster, ClusterRunEnd, describeStall } from '../../core/cluster/cluster.js';
import { LinuxGuestNode } from '../../core/cluster/linux-guest-node.js';
import { readElfBinary } from '../../core/linux/elf/read-elf-binary.js';
import { guestPath } from '../../core/system/guest-path.js';
import { DuneModule } from '../../core/dune/dune-module.js';
import type { Process } from '../../core/linux/task.js';
import type { ProfileFile } from '../../core/vtx/cost-model.js';
import { NIC_BAR0 } from '../../core/cluster/linux-guest-node.js';
import { DsmNicSetupHandler } from './dsm-nic-setup-handler.js';

/** plugins/dsm/programs/bin: the DSM programs, linked with lib/libdsm.a (committed binaries). */
export const DSM_PROGRAM_BIN = join(ROOT, 'plugins', 'dsm', 'programs', 'bin');

export const DSM_MODES = ['linux', 'dune'] as const;
export type DsmMode = (typeof DSM_MODES)[number];
export const DSM_MANAGERS = ['central', 'distributed'] as const;
export type DsmManager = (typeof DSM_MANAGERS)[number];

/** The per-node counters dsm_exit prints ("dsm NAME VALUE"). */
export const DSM_STAT_NAMES = [
  'read_faults', 'write_faults', 'msgs_sent', 'bytes_sent', 'coherence_msgs', 'coherence_bytes',
  'pages_sent', 'invalidations_sent', 'requests_served', 'fault_cycles', 'net_cycles', 'wait_cycles',
  'send_cycles', 'serve_cycles', 'nic_frames_sent', 'nic_frames_received',
] as const;
export type DsmStats = Record<(typeof DSM_STAT_NAMES)[number], number>;

/** Each wire: 10 GbE, 0.5 µs (the cluster's lookahead); more than two nodes meet at a switch. */
const WIRE_SECONDS = 0.5e-6;
const SWITCH_SECONDS = 0.5e-6;
const ADDR_BASE = 0x0a00_0001; // node i is 10.0.0.(i+1)
const STEP_PS = 1e9;

export interface DsmRunOptions {
  profile: string | ProfileFile;
  program: string;
  args?: string[];
  nodes: number;
  mode: DsmMode;
  manager: DsmManager;
  /** Extra environment for every node (DSM_TIMEOUT_MS, the fault-injection switches). */
  env?: Record<string, string>;
  /** Extra environment for one node, by node number. */
  nodeEnv?: Record<number, Record<string, string>>;
  /** Takes node 1's wire down at this cluster time (picoseconds): every frame after it is lost. */
  cutLinkAtPs?: number;
}

export interface DsmNodeResult {
  stdout: string;
  stderr: string;
  exitStatus: number | undefined;
  stats: DsmStats | undefined;
  /** Work the node's kernel handed to its CPU while that CPU ran a Dune guest (linux.irqWork). */
  irqWork: number;
  /** System calls the node's kernel ran (inside Dune: those passed through by VMCALL), and VM exits for VMCALL. */
  syscalls: number;
  vmcalls: number;
  vmExits: number;
  /** Queue pairs the DSM set-up hypercall handed out on the node. */
  nicSetups: number;
}

export interface DsmRun {
  nodes: DsmNodeResult[];
  end: ClusterRunEnd;
  /** Node 0's report: the distributed result against the single-node reference, and the parallel part's TSC cycles. */
  result?: string;
  reference?: string;
  verified: boolean;
  cycles: number;
  clockHz: number;
  /** Frames the cluster carried between ports. */
  frames: number;
}

/** A run that failed: a node's report, or a cluster that stalled. */
export class DsmRunError extends Error {}

export function dsmProgramPath(program: string): string {
  const path = join(DSM_PROGRAM_BIN, program);
  if (!existsSync(path)) throw new DsmRunError(`${path} is missing: build it with make -C plugins/dsm/programs`);
  return path;
}

/**
 * Runs one DSM program on `nodes` simulated Linux machines of one cluster (one CPU each, an 82599
 * port on the same wire or switch, the Dune module loaded), one process per node with DSM_NODE,
 * DSM_NODES, DSM_MODE and DSM_MANAGER set, until every process has exited or the cluster can make
 * no progress. A single-node run still gets a second, idle machine: a cluster needs a wire.
 */
export function runDsmCluster(o: DsmRunOptions): DsmRun {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 16) throw new RangeError(`nodes: 1 to 16, got ${o.nodes}`);
  const path = dsmProgramPath(o.program);
  const elf = readElfBinary(path);
  const shown = guestPath(path);
  const cluster = new Cluster();
  const machines = Math.max(2, o.nodes);
  const dec = new TextDecoder();
  const nodes: LinuxGuestNode[] = [];
  const outs: Array<{ stdout: string; stderr: string }> = [];
  const macs = Array.from({ length: machines }, (_, i) => Uint8Array.of(0, 0x1b, 0x21, 0, 0, i + 1));
  const setups: DsmNicSetupHandler[] = [];
  for (let i = 0; i < machines; i++) {
    const n = new LinuxGuestNode(cluster, `node${i}`, {
      profile: o.profile, cpus: 1, memory: 256 << 20, mac: macs[i]!,
      address: ADDR_BASE + i, prefixLength: 24,
    });
    const out = { stdout: '', stderr: '' };
    n.kernel.console = (fd, d) => {
      if (fd === 1) out.stdout += dec.decode(d);
      else out.stderr += dec.decode(d);
    };
    // The DSM plugin's host side: the hypercall that gives a Dune process a queue of this port.
    let dune: DuneModule | undefined;
    const setup = new DsmNicSetupHandler(n.kernel, n.nic, NIC_BAR0, macs, () => dune!);
    dune = new DuneModule(n.kernel, { exitHandlers: [setup] });
    setups.push(setup);
    nodes.push(n);
    outs.push(out);
  }
  if (machines === 2) cluster.connect(nodes[0]!.nic, nodes[1]!.nic, WIRE_SECONDS);
  else cluster.connectSwitch(nodes.map((n) => n.nic), { propagationSeconds: WIRE_SECONDS, forwardingSeconds: SWITCH_SECONDS });
  const procs: Process[] = [];
  for (let i = 0; i < o.nodes; i++) {
    const vars: Record<string, string> = {
      DSM_NODE: String(i), DSM_NODES: String(o.nodes), DSM_MODE: o.mode, DSM_MANAGER: o.manager, DSM_ADDR_BASE: '10.0.0.1',
      ...o.env, ...o.nodeEnv?.[i],
    };
    const env = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
    procs.push(nodes[i]!.kernel.spawnElf(shown, elf, [o.program, ...(o.args ?? [])], env, shown));
  }
  for (const n of nodes) n.start();
  if (o.cutLinkAtPs !== undefined) cluster.setLink(nodes[1]!.nic, false, o.cutLinkAtPs);
  // In steps of a millisecond until every process has exited: the nodes' TCP timers (TIME_WAIT)
  // would otherwise keep the cluster going for a minute of simulated time after the work.
  let end: ClusterRunEnd;
  for (let t = STEP_PS; ; t += STEP_PS) {
    end = cluster.run(t);
    if (end.reason !== 'until' || procs.every((p) => p.zombie)) break;
  }
  const results: DsmNodeResult[] = procs.map((p, i) => ({
    stdout: outs[i]!.stdout,
    stderr: outs[i]!.stderr,
    exitStatus: exitStatusOf(p),
    stats: parseStats(outs[i]!.stdout),
    irqWork: nodes[i]!.machine.stats.get('linux.irqWork'),
    syscalls: nodes[i]!.machine.stats.get('linux.syscalls'),
    vmcalls: nodes[i]!.machine.stats.get('cpu0.vmx.exits.Vmcall'),
    vmExits: nodes[i]!.machine.stats.get('cpu0.vmx.exits'),
    nicSetups: setups[i]!.setups,
  }));
  const out0 = outs[0]!.stdout;
  const field = (name: string): string | undefined => new RegExp(`^${name} (\\S+)$`, 'm').exec(out0)?.[1];
  return {
    nodes: results, end,
    result: field('result'), reference: field('reference'), verified: field('verified') === 'yes',
    cycles: Number(field('cycles') ?? NaN),
    clockHz: nodes[0]!.machine.costs.clockHz,
    frames: cluster.delivered,
  };
}

/** The run, or an error that carries every node's report (and the stall, if the cluster stalled). */
export function runDsmChecked(o: DsmRunOptions): DsmRun {
  const r = runDsmCluster(o);
  const failed = r.nodes.some((n) => n.exitStatus !== 0) || !r.verified;
  if (failed || r.end.reason === 'stalled') {
    const lines = r.nodes.map((n, i) => `node ${i} (exit ${n.exitStatus ?? 'none'}):\n${n.stdout}${n.stderr}`);
    throw new DsmRunError(`${o.program} on ${o.nodes} nodes (${o.mode}, ${o.manager}) failed; ${describeStall(r.end)}\n${lines.join('\n')}`);
  }
  return r;
}

/** The shell's view of a wait status: the exit code, or 128 + the signal that killed it; undefined while it runs. */
function exitStatusOf(p: Process): number | undefined {
  if (!p.zombie) return undefined;
  const sig = p.waitStatus & 0x7f;
  return sig !== 0 ? 128 + sig : (p.waitStatus >> 8) & 0xff;
}

function parseStats(text: string): DsmStats | undefined {
  const s: Partial<DsmStats> = {};
  for (const line of text.split('\n')) {
    const m = /^dsm (\w+) (\d+)$/.exec(line);
    if (m !== null && (DSM_STAT_NAMES as readonly string[]).includes(m[1]!)) s[m[1] as keyof DsmStats] = Number(m[2]);
  }
  return DSM_STAT_NAMES.every((k) => s[k] !== undefined) ? (s as DsmStats) : undefined;
}

/** The sum of one counter over the nodes. */
export function totalStat(r: DsmRun, name: keyof DsmStats): number {
  return r.nodes.reduce((a, n) => a + (n.stats?.[name] ?? 0), 0);
}
