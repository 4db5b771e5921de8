import { describe, expect, it } from 'vitest';
import { Cluster } from '../../core/cluster/cluster.js';
import { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import * as R from '../../core/vtx/devices/nic-registers.js';
import { buildFrame, connectedPair } from '../vtx/devices/nic-driver.js';
import { kernelProgram, rig } from '../vtx/helpers.js';
import { RFLAGS_FIXED, RFLAGS_IF } from '../../core/vtx/arch.js';

/** Two machines, each with one 82599 port and a driver on its CPU 0, wired back to back. */
const twoNodes = (propagationSeconds?: number): ReturnType<typeof connectedPair> => connectedPair(propagationSeconds);

function segment(i: number, payload = 64): Uint8Array {
  return buildFrame({
    dstMac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 0xb]), src: '10.0.0.1', dst: '10.0.0.2',
    srcPort: 1000 + i, dstPort: 80, payload, checksums: 'seed',
  });
}

describe('a cluster of machines', () => {
  it('what one machine\'s port sends reaches the other machine\'s memory, one wire delay after it left, in time order', () => {
    const { cluster, a, b } = twoNodes();
    b.setupRx(0, 64);
    b.w(R.RXCTRL, R.RXCTRL_RXEN);
    a.setupTx(0, 64);
    a.txContext(0, 0);
    for (let i = 0; i < 20; i++) a.txData(0, i + 1, segment(i), { offload: true });
    const sent: number[] = [];
    const handOff = a.nic.onTransmit;
    a.nic.onTransmit = (frame, endPs) => {
      sent.push(endPs);
      handOff(frame, endPs);
    };
    a.w(R.tdt(0), 21);
    // b's driver set up its rings from outside the run, so b's clock starts where that work left
    // it; frames due before that are taken as soon as b runs (counted as late), the rest on time.
    const b0 = b.cpu.cycles;
    cluster.run();
    expect(cluster.delivered).toBe(20);
    for (let i = 0; i < 20; i++) {
      const wb = b.rxWriteback(0, i);
      expect(wb.status & R.RXD_STAT_DD).toBe(R.RXD_STAT_DD);
      expect(b.rxBuffer(0, i, 20)).toEqual(segment(i).subarray(0, 20)); // in order
    }
    // Back to back on the wire (113.6 ns for a 142-byte frame), and b's clock moved to the last arrival.
    for (let i = 1; i < 20; i++) expect(sent[i]! - sent[i - 1]!).toBe(113_600);
    const lastArrivalCycles = Cluster.cyclesAt(b.r.m, sent[19]! + 25_000);
    expect(Math.max(...b.r.m.cpus.map((c) => c.cycles))).toBeGreaterThanOrEqual(lastArrivalCycles);
    const dueBeforeB = sent.filter((t) => Cluster.cyclesAt(b.r.m, t + 25_000) < b0).length;
    expect(cluster.lateArrivals).toBe(dueBeforeB); // none late once both machines run in windows
  });

  it('a receiving CPU busy computing takes each frame\'s interrupt when the frame arrives on its clock', () => {
    const { cluster, a, b } = twoNodes();
    b.setupRx(0, 64);
    b.w(R.RXCTRL, R.RXCTRL_RXEN);
    b.ivar(0, 0, 0);
    b.msixEntry(0, 0x60);
    b.w(R.EIAC, 1);
    b.w(R.EIMS, 1);
    const taken: number[] = [];
    const rb = b.r;
    rb.boot.gate(0x60, kernelProgram(rb).add((c) => {
      taken.push(c.cycles);
      c.eoi();
      c.iretq();
    }));
    // b's CPU spins (a loop of natives) until it has taken 10 interrupts, then halts.
    const p = kernelProgram(rb);
    const spin = p.add((c) => {
      if (taken.length >= 10) c.hlt();
      else c.jump(spin);
    });
    rb.cpu.halted = false;
    rb.cpu.rip = spin;
    rb.cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
    a.setupTx(0, 64);
    a.txContext(0, 0);
    // 1,000-byte payloads: frames ~0.86 µs apart at 10 Gb/s, longer than one interrupt's delivery,
    // handler and IRETQ, so that each frame gets an interrupt of its own (back-to-back 64-byte
    // frames, 114 ns apart, arrive faster than the CPU takes interrupts and are coalesced).
    for (let i = 0; i < 10; i++) a.txData(0, i + 1, segment(i, 1000), { offload: true });
    const sent: number[] = [];
    const handOff = a.nic.onTransmit;
    a.nic.onTransmit = (frame, endPs) => {
      sent.push(endPs);
      handOff(frame, endPs);
    };
    // a waits (idle) until b's driver is done, then starts sending: the two drivers ran outside
    // the cluster, each at its own machine's clock.
    a.cpu.cycles = Math.max(a.cpu.cycles, rb.cpu.cycles) + 10_000;
    a.w(R.tdt(0), 11);
    cluster.run(40e6); // 40 µs of cluster time: ample for ten frames
    expect(taken).toHaveLength(10);
    // Each interrupt lands within a few cycles of its frame's arrival on b's clock (plus the
    // delivery itself, which the handler's clock includes): the windows kept b from running past
    // an arrival before the frame was on its clock.
    // The frame's write-back and message land after b's receive pipeline and one link crossing.
    const delivery = rb.cpu.costs.exceptionDelivery;
    const lag = b.nic.latency.macRx + b.nic.latency.postedWrite;
    for (let i = 0; i < 10; i++) {
      const arrival = Cluster.cyclesAt(rb.m, sent[i]! + 25_000) + lag;
      expect(taken[i]! - arrival).toBeGreaterThanOrEqual(delivery);
      expect(taken[i]! - arrival).toBeLessThan(delivery + 50);
    }
    expect(cluster.windows).toBeGreaterThan(10);
    expect(cluster.lateArrivals).toBe(0);
  });

  it('is deterministic, and jumps over time when every machine is idle', () => {
    const run = (): number[] => {
      const { cluster, a, b } = twoNodes(20e-6); // 20 µs of fibre: mostly idle time
      b.setupRx(0, 8);
      b.w(R.RXCTRL, R.RXCTRL_RXEN);
      a.setupTx(0, 8);
      a.txContext(0, 0);
      a.txData(0, 1, segment(0), { offload: true });
      a.w(R.tdt(0), 2);
      cluster.run();
      expect(cluster.delivered).toBe(1);
      expect(cluster.jumps).toBeGreaterThan(0);
      return [cluster.windows, cluster.jumps, ...b.r.m.cpus.map((c) => c.cycles), ...a.r.m.cpus.map((c) => c.cycles)];
    };
    expect(run()).toEqual(run());
  });

  it('a frame sent from a machine whose idle CPU lags the cluster\'s present leaves now, and is counted (no "event before now")', () => {
    const { cluster, a, b } = twoNodes();
    // Another pair of machines moves the cluster's clock on while a and b stay idle.
    const { cluster: other, a: c, b: d } = twoNodes();
    void other;
    cluster.addNode('c', c.r.m);
    cluster.addNode('d', d.r.m);
    cluster.connect(c.nic, d.nic, 25e-9);
    c.setupTx(0, 64);
    c.txContext(0, 0);
    for (let i = 0; i < 40; i++) c.txData(0, i + 1, segment(i), { offload: true });
    c.w(R.tdt(0), 41);
    const aBefore = a.cpu.cycles;
    cluster.run();
    // The run's end caught a's idle clock up with the present; put it back where it was, as for a
    // CPU that another CPU's interrupt woke and whose clock has not moved on yet.
    a.cpu.cycles = aBefore;
    expect(Cluster.cyclesAt(a.r.m, cluster.events.now)).toBeGreaterThan(a.cpu.cycles + 1000);
    b.setupRx(0, 64);
    b.w(R.RXCTRL, R.RXCTRL_RXEN);
    b.flush();
    a.setupTx(0, 64);
    a.txContext(0, 0);
    a.txData(0, 1, segment(0), { offload: true });
    a.w(R.tdt(0), 2);
    cluster.run();
    expect(cluster.lateDepartures).toBe(1);
    expect(b.rxWriteback(0, 0).status & R.RXD_STAT_DD).toBe(R.RXD_STAT_DD);
    expect(b.rxBuffer(0, 0, 20)).toEqual(segment(0).subarray(0, 20));
  });

  it('while every machine sleeps until a wake-up of its own, the idle windows are skipped, not stepped, and the wake-up comes on time', () => {
    const { cluster, a } = twoNodes();
    const m = a.r.m;
    const at = Cluster.cyclesAt(m, 1e9); // 1 ms of cluster time: 40,000 windows of 25 ns
    let firedAt = -1;
    m.schedule(at, () => {
      firedAt = m.cpus[0]!.cycles;
    });
    const end = cluster.run();
    expect(end.reason).toBe('quiet');
    expect(firedAt).toBe(at);
    expect(cluster.skippedWindows).toBeGreaterThan(39_000);
    expect(cluster.windows).toBeLessThan(1_000);
  });

  it('refuses a wire without delay (no lookahead) and a port whose machine is not a node', () => {
    const r = rig({ memory: 32 << 20 });
    const n1 = new Nic82599(r.m, { name: 'x' });
    const n2 = new Nic82599(rig({ memory: 32 << 20 }).m, { name: 'y' });
    const c = new Cluster();
    c.addNode('x', r.m);
    expect(() => c.connect(n1, n2, 25e-9)).toThrow(/port y is on a machine that is not a node/);
    expect(() => c.connect(n1, n1, 0)).toThrow(/positive propagation delay/);
    expect(() => c.addNode('x', rig({ memory: 16 << 20 }).m)).toThrow(/already in the cluster/);
  });
});
