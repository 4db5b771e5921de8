import type { Machine } from '../vtx/machine.js';
import type { Nic82599 } from '../vtx/devices/nic-82599.js';
import type { ModelledHost } from './modelled-host.js';
import { EthernetSwitch } from './ethernet-switch.js';
import { ETH_HEADER, wireBytes } from '../vtx/devices/ethernet-wire.js';
import { EventQueue, Picoseconds, picoseconds } from './event-queue.js';
import { TestbedPath, pathSeconds } from './testbed-path.js';

/**
 * How a node's machine moves on to a clock (cycles): by default the machine's own scheduler (its
 * CPUs and device events); a node running the Linux model passes its kernel's run instead.
 */
export type NodeAdvance = (machine: Machine, untilCycles: number) => void;

export interface ClusterNode {
  readonly name: string;
  readonly machine: Machine;
  readonly advance: NodeAdvance;
  /**
   * The clock (cycles) of the node's next event of its own while its CPUs are idle: a device
   * event, and for a Linux node a kernel timer (a sleep's deadline). Default: device events.
   */
  readonly nextWake: () => number;
  /** What the node's software is blocked in, '' if nothing (for the report of a stalled run). */
  readonly blocked: () => string;
}

export interface NodeOptions {
  nextWake?: () => number;
  blocked?: () => string;
}

/**
 * How `Cluster.run` ended: at the time asked for; quiet (nothing in flight, every node idle and
 * nothing blocked); or stalled (nothing can happen any more, yet some node's software waits —
 * for a frame that will never come), with what each such node waits in.
 */
export interface ClusterRunEnd {
  reason: 'until' | 'quiet' | 'stalled';
  /** Cluster time (picoseconds) when the run ended. */
  at: Picoseconds;
  blocked: Array<{ node: string; what: string }>;
}

/** The machine's own loop: its CPUs, and its device events while every CPU is idle. */
export const advanceMachine: NodeAdvance = (m, until) => {
  for (;;) {
    m.run(until);
    const busy = m.cpus.some((c) => !c.halted && !c.stopped && c.cycles < until);
    if (busy) continue;
    if (m.nextEventAt > until) return;
    m.advanceToNextEvent();
  }
};

/**
 * Several machines in one process, wired port to port, stepped in time order and deterministic.
 *
 * Conservative synchronisation with a lookahead: a frame that leaves a port at time t cannot reach
 * another machine before t + the shortest propagation delay L of any wire. So the cluster moves
 * every machine forward in windows of L: within a window the machines run independently, each up
 * to the window's end; what they transmit arrives in a later window, and the arrival is put on
 * the receiving machine's clock (a device event) before that machine runs past it. When every
 * machine is idle and frames are in flight, time jumps to the next arrival.
 */
export class Cluster {
  readonly events = new EventQueue();
  private readonly nodes: ClusterNode[] = [];
  private lookahead: Picoseconds = Infinity;
  /** Frames delivered from one port to another. */
  delivered = 0;
  /** Windows run, jumps over idle time to an arrival, and windows skipped while every machine slept. */
  windows = 0;
  jumps = 0;
  skippedWindows = 0;
  /**
   * Arrivals that found the receiving machine's clock already past them, and by how much at most.
   * A CPU ends its run at an instruction boundary, so its clock may overshoot a window's end by
   * one instruction's cost (an uncached register read is 1,650 cycles); a frame due in that sliver
   * is taken at the machine's next slice instead, as its device event is then in the past.
   */
  lateArrivals = 0;
  maxLateCycles = 0;
  /** Frames a machine handed to a wire from a clock behind the cluster's present (they leave at the present). */
  lateDepartures = 0;
  /** Frames lost on a wire that was down when they left or while they were on it. */
  lost = 0;
  private readonly wires: Array<{ a: Nic82599; b: Nic82599; up: boolean; generation: number }> = [];

  addNode(name: string, machine: Machine, advance: NodeAdvance = advanceMachine, opts: NodeOptions = {}): ClusterNode {
    if (this.nodes.some((n) => n.name === name)) throw new RangeError(`a node named '${name}' is already in the cluster`);
    if (this.nodes.some((n) => n.machine === machine)) throw new RangeError(`machine of '${name}' is already a node`);
    const node: ClusterNode = {
      name, machine, advance,
      nextWake: opts.nextWake ?? (() => machine.nextEventAt),
      blocked: opts.blocked ?? (() => ''),
    };
    this.nodes.push(node);
    return node;
  }

  /** A machine's clock (cycles) for a cluster time, and back. */
  static cyclesAt(machine: Machine, ps: Picoseconds): number {
    return (ps * machine.costs.clockHz) / 1e12;
  }

  /** The cluster time (picoseconds) at which `machine`'s clock reads `cycles`. */
  static psAt(machine: Machine, cycles: number): Picoseconds {
    return (cycles * 1e12) / machine.costs.clockHz;
  }

  /**
   * A full-duplex wire between two NIC ports (each already on a node's machine). Each port is
   * its side's serialiser (a frame is handed over when its last bit has left); the wire adds the
   * propagation delay — given in seconds, or as a path through a cut-through switch (cables and
   * the switch's port-to-port latency, see TestbedPath), which is the same constant delay.
   */
  connect(a: Nic82599, b: Nic82599, path: number | TestbedPath): void {
    const propagationSeconds = typeof path === 'number' ? path : pathSeconds(path);
    const prop = picoseconds(propagationSeconds);
    if (!(prop > 0)) throw new RangeError(`a wire needs a positive propagation delay (the cluster's lookahead), got ${propagationSeconds} s`);
    for (const nic of [a, b]) {
      if (!this.nodes.some((n) => n.machine === nic.machine)) throw new RangeError(`port ${nic.name} is on a machine that is not a node of the cluster`);
    }
    this.lookahead = Math.min(this.lookahead, prop);
    const w = { a, b, up: true, generation: 0 };
    this.wires.push(w);
    const wire = (from: Nic82599, to: Nic82599): void => {
      from.onTransmit = (frame, endPs) => {
        if (!w.up) {
          this.lost++;
          return;
        }
        const generation = w.generation;
        // Handed over while `from`'s machine runs a window: the arrival is at least one
        // lookahead later, so it lands after the window that is running now — unless the sender
        // was an idle CPU whose clock lags the cluster's present (it moves on when it next runs):
        // then the frame arrives now, and is counted, as connectHost does.
        let arrival = endPs + prop;
        if (arrival < this.events.now) {
          this.lateDepartures++;
          arrival = this.events.now;
        }
        this.events.at(arrival, () => {
          if (w.generation !== generation) {
            this.lost++; // the wire went down while the frame was on it
            return;
          }
          const at = Cluster.cyclesAt(to.machine, arrival);
          const ahead = Math.max(...to.machine.cpus.map((c) => c.cycles));
          if (at < ahead) {
            this.lateArrivals++;
            this.maxLateCycles = Math.max(this.maxLateCycles, ahead - at);
          }
          this.delivered++;
          to.receiveAt(at, frame);
        });
      };
    };
    wire(a, b);
    wire(b, a);
  }

  /**
   * A wire between a machine's NIC port and a modelled host's port (ModelledHost: a client whose
   * CPU is not emulated). Each side serialises its own frames; the wire adds the propagation
   * delay (seconds, or a TestbedPath through a cut-through switch). The host acts on the cluster's clock, in events, and its frames reach the machine one
   * lookahead later at least, as a machine's do.
   */
  connectHost(nic: Nic82599, host: ModelledHost, path: number | TestbedPath): void {
    const propagationSeconds = typeof path === 'number' ? path : pathSeconds(path);
    const prop = picoseconds(propagationSeconds);
    if (!(prop > 0)) throw new RangeError(`a wire needs a positive propagation delay (the cluster's lookahead), got ${propagationSeconds} s`);
    if (!this.nodes.some((n) => n.machine === nic.machine)) throw new RangeError(`port ${nic.name} is on a machine that is not a node of the cluster`);
    this.lookahead = Math.min(this.lookahead, prop);
    nic.onTransmit = (frame, endPs) => {
      // A CPU that was idle can send from a clock behind the cluster's present (its clock moves
      // on when it next runs): the frame leaves now, and is counted.
      if (endPs + prop < this.events.now) this.lateDepartures++;
      this.events.at(Math.max(endPs + prop, this.events.now), () => {
        this.delivered++;
        host.port.deliver(frame);
      });
    };
    host.port.onTransmit = (frame, endPs) => {
      const arrival = endPs + prop;
      this.events.at(arrival, () => {
        const at = Cluster.cyclesAt(nic.machine, arrival);
        const ahead = Math.max(...nic.machine.cpus.map((c) => c.cycles));
        if (at < ahead) {
          this.lateArrivals++;
          this.maxLateCycles = Math.max(this.maxLateCycles, ahead - at);
        }
        this.delivered++;
        nic.receiveAt(at, frame);
      });
    };
  }

  /**
   * Several NIC ports on one output-queued switch (EthernetSwitch's ports): each port's wire
   * carries its frames to the switch after `propagationSeconds`; after `forwardingSeconds` the
   * switch queues a frame on the output port's own link (serialised at the line rate, with
   * `queueBytes` of buffer, then the wire's delay again). It learns which port each source MAC
   * address is behind, as a transparent bridge does (IEEE 802.1D), forwards a frame to a known
   * destination's port, and floods broadcasts (ARP requests) and unknown destinations to every
   * other port. Returns the switch, whose port links count what they carried and dropped.
   */
  connectSwitch(nics: readonly Nic82599[], o: { propagationSeconds: number; forwardingSeconds: number; queueBytes?: number }): EthernetSwitch<SwitchedFrame> {
    const prop = picoseconds(o.propagationSeconds);
    if (!(prop > 0)) throw new RangeError(`a wire needs a positive propagation delay (the cluster's lookahead), got ${o.propagationSeconds} s`);
    if (nics.length < 2) throw new RangeError('a switch needs at least two ports');
    const fwd = picoseconds(o.forwardingSeconds);
    const sw = new EthernetSwitch<SwitchedFrame>(this.events, fwd);
    /** The learned table: source MAC → port. */
    const learned = new Map<string, number>();
    nics.forEach((nic, i) => {
      if (!this.nodes.some((n) => n.machine === nic.machine)) throw new RangeError(`port ${nic.name} is on a machine that is not a node of the cluster`);
      sw.attach(`port${i}`, { bitsPerSecond: nic.bitsPerSecond, propagationSeconds: o.propagationSeconds, queueBytes: o.queueBytes }, {
        deliver: (f) => {
          const at = Cluster.cyclesAt(nic.machine, this.events.now);
          const ahead = Math.max(...nic.machine.cpus.map((c) => c.cycles));
          if (at < ahead) {
            this.lateArrivals++;
            this.maxLateCycles = Math.max(this.maxLateCycles, ahead - at);
          }
          this.delivered++;
          nic.receiveAt(at, f.payload.frame);
        },
      });
      nic.onTransmit = (frame, endPs) => {
        if (endPs + prop < this.events.now) this.lateDepartures++;
        this.events.at(Math.max(endPs + prop, this.events.now), () => {
          learned.set(macKey(frame, 6), i);
          const dst = macKey(frame, 0);
          const wire = wireBytes(frame.length - ETH_HEADER);
          const out = (frame[0]! & 1) === 0 ? learned.get(dst) : undefined;
          this.events.after(fwd, () => {
            if (out !== undefined) {
              if (out !== i) sw.port(out).send({ wire, payload: { dst, frame } });
              return;
            }
            for (let p = 0; p < nics.length; p++) if (p !== i) sw.port(p).send({ wire, payload: { dst, frame: frame.slice() } });
          });
        });
      };
    });
    this.lookahead = Math.min(this.lookahead, prop);
    return sw;
  }

  /**
   * Takes the wire of port `nic` down or up at cluster time `atPs` (now by default): frames on
   * it or sent while it is down are lost, and both ports see their link change (LSC) at that
   * time on their own machine's clock.
   */
  setLink(nic: Nic82599, up: boolean, atPs: Picoseconds = this.events.now): void {
    const w = this.wires.find((x) => x.a === nic || x.b === nic);
    if (w === undefined) throw new RangeError(`port ${nic.name} has no wire in this cluster`);
    this.events.at(Math.max(atPs, this.events.now), () => {
      if (w.up === up) return;
      w.up = up;
      w.generation++;
      for (const port of [w.a, w.b]) {
        const at = Math.max(0, Cluster.cyclesAt(port.machine, atPs));
        port.machine.schedule(at, () => port.asOf(at, () => port.setLink(up)));
      }
    });
  }

  /** Whether a node has nothing to do before `untilCycles`: every CPU idle, no device event due. */
  private static idle(n: ClusterNode, untilCycles: number): boolean {
    // A CPU that is stopped but not halted (the kernel stops its CPUs to re-slice when it arms its
    // first timer) still has work: only halted CPUs are idle.
    return n.machine.cpus.every((c) => c.halted) && n.nextWake() >= untilCycles;
  }

  /** Runs every machine to cluster time `until` (picoseconds), or until nothing is left to do. */
  run(until: Picoseconds = Infinity): ClusterRunEnd {
    if (this.lookahead === Infinity) throw new Error('cluster: no wire, so no lookahead; connect two ports first');
    let now = this.events.now;
    for (;;) {
      if (now >= until) return this.end('until', now);
      // Nothing anywhere before the next arrival: jump to it (or stop).
      const next = this.events.peek();
      if (this.nodes.every((n) => Cluster.idle(n, Cluster.cyclesAt(n.machine, Math.min(next, until))))) {
        if (next === Infinity || next >= until) {
          this.events.run(until);
          if (next === Infinity && this.nodes.every((n) => n.nextWake() === Infinity)) {
            const blocked = this.blockedNodes();
            // The cluster's clock has moved to `until` (when there is one): so have the machines.
            return this.end(blocked.length > 0 ? 'stalled' : 'quiet', Math.max(now, this.events.now), blocked);
          }
          return this.end('until', until);
        }
        if (next > now) {
          now = next;
          this.jumps++;
        }
      } else if (this.nodes.every((n) => n.machine.cpus.every((c) => c.halted))) {
        // Every machine sleeps until a wake-up of its own (a kernel timer such as TIME_WAIT's, a
        // device event) that comes before the next arrival: the windows before the one holding
        // the earliest wake-up have nothing to do, so they are skipped — whole windows, so that
        // every boundary stays where stepping would have put it.
        let wake = until;
        for (const n of this.nodes) wake = Math.min(wake, Cluster.psAt(n.machine, n.nextWake()));
        const skip = Math.floor((wake - now) / this.lookahead);
        if (skip > 0) {
          now += skip * this.lookahead;
          this.skippedWindows += skip;
        }
      }
      const end = Math.min(until, now + this.lookahead);
      // Arrivals in this window go onto their machines' clocks before any machine runs.
      this.events.run(end - 1);
      for (const n of this.nodes) n.advance(n.machine, Cluster.cyclesAt(n.machine, end));
      this.windows++;
      now = end;
    }
  }

  private blockedNodes(): Array<{ node: string; what: string }> {
    const out: Array<{ node: string; what: string }> = [];
    for (const n of this.nodes) {
      const what = n.blocked();
      if (what !== '') out.push({ node: n.name, what });
    }
    return out;
  }

  private end(reason: ClusterRunEnd['reason'], at: Picoseconds, blocked: ClusterRunEnd['blocked'] = []): ClusterRunEnd {
    // The machines slept until the run's end: idle clocks catch up with it, so what a caller does
    // between runs (a frame sent, a socket opened) happens at the cluster's present.
    if (Number.isFinite(at)) {
      for (const n of this.nodes) {
        const c = Cluster.cyclesAt(n.machine, at);
        for (const cpu of n.machine.cpus) if (cpu.halted && cpu.cycles < c) cpu.cycles = c;
      }
    }
    return { reason, at, blocked };
  }
}

/** The report of a stalled run: which node waits in what. */
export function describeStall(end: ClusterRunEnd): string {
  if (end.reason !== 'stalled') return `cluster ${end.reason} at ${end.at / 1e6} µs`;
  return `cluster stalled at ${end.at / 1e6} µs: nothing in flight and no node can move, yet ${end.blocked.map((b) => `${b.node}: ${b.what}`).join('; ')}`;
}

/** A frame crossing a switch: the 82599's bytes, and its destination MAC as the forwarding key. */
export interface SwitchedFrame {
  dst: string;
  frame: Uint8Array;
}

function macKey(b: Uint8Array, off: number): string {
  let k = '';
  for (let i = 0; i < 6; i++) k += (b[off + i]! | 0x100).toString(16).slice(1);
  return k;
}
