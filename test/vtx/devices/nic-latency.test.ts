import { describe, expect, it } from 'vitest';
import { Cluster } from '../../../core/cluster/cluster.js';
import { IX_TESTBED_PATH, pathSeconds } from '../../../core/cluster/testbed-path.js';
import { tcpSegmentWireBytes } from '../../../core/vtx/devices/ethernet-wire.js';
import { Nic82599, Nic82599Config } from '../../../core/vtx/devices/nic-82599.js';
import * as R from '../../../core/vtx/devices/nic-registers.js';
import { NO_PCIE_LATENCY, PcieLatency, pcieLatencyOf } from '../../../core/vtx/devices/pcie-latency.js';
import { rig } from '../helpers.js';
import { NIC_MAC, buildFrame, connectedPair, drainEvents, nicRig } from './nic-driver.js';

const segment = (i: number): Uint8Array =>
  buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000 + i, dstPort: 7, payload: 64, checksums: 'seed', ipId: i });

/** Cycles to picoseconds on the profile's clock, as the transmit path rounds them. */
const ps = (cycles: number, clockHz: number): number => Math.round((cycles * 1e12) / clockHz);

/** One 64-byte segment posted on TX queue 0; returns the clock of the doorbell store and when its last bit left (ps). */
function sendOne(config: Nic82599Config): { nic: Nic82599; storeAt: number; endPs: number; clockHz: number } {
  const { r, nic, drv } = nicRig(config);
  const sent: number[] = [];
  nic.onTransmit = (_f, endPs) => sent.push(endPs);
  drv.setupTx(0, 8);
  drv.txContext(0, 0);
  drv.txData(0, 1, segment(0), { offload: true });
  drv.w(R.tdt(0), 2);
  const storeAt = drv.cpu.cycles; // the uncached store has left the core
  drainEvents(r);
  expect(sent).toHaveLength(1);
  return { nic, storeAt, endPs: sent[0]!, clockHz: r.m.costs.clockHz };
}

describe('82599 I/O path latencies (PCIe, the MAC pipeline)', () => {
  it('the profile carries the four latencies, each positive', () => {
    const { r } = nicRig();
    const l = pcieLatencyOf(r.m.costs);
    for (const k of ['postedWrite', 'dmaRead', 'macTx', 'macRx'] as const) expect(l[k]).toBeGreaterThan(0);
    // A posted write is one leg of a read's round trip.
    expect(l.postedWrite).toBeLessThan(l.dmaRead);
  });

  it('a doorbell is a posted write: the device sees the tail one link latency after the store; a read of it waits for it', () => {
    const { r, nic, drv } = nicRig();
    drv.setupTx(0, 8);
    const before = nic.postedWrites;
    drv.w(R.tdt(0), 3);
    const storeAt = drv.cpu.cycles;
    expect(nic.postedWrites).toBe(before + 1);
    // In flight: the register still holds the old tail, and the arrival is the next device event.
    expect(nic.regs[R.tdt(0) >>> 2]).toBe(0);
    expect(r.m.nextEventAt).toBe(storeAt + nic.latency.postedWrite);
    r.m.advanceToNextEvent();
    expect(nic.regs[R.tdt(0) >>> 2]).toBe(3);
    // PCIe ordering: a read does not pass a posted write, so the driver reads back what it wrote
    // even before the write's own arrival event.
    drv.w(R.tdt(0), 5);
    expect(nic.regs[R.tdt(0) >>> 2]).toBe(3);
    expect(drv.rd(R.tdt(0))).toBe(5);
  });

  it('a register write with no latency reaches the device at once (the mechanism is the latency)', () => {
    const { nic, drv } = nicRig({ latency: NO_PCIE_LATENCY });
    drv.setupTx(0, 8);
    drv.w(R.tdt(0), 3);
    expect(nic.regs[R.tdt(0) >>> 2]).toBe(3);
  });

  it('a TX packet waits for its descriptor fetch and then its buffer fetch (two read round trips) and the MAC pipeline before the wire', () => {
    const full = sendOne({});
    const l = full.nic.latency;
    const wire = Math.round((tcpSegmentWireBytes(64) * 8 * 1e12) / 10e9); // 113.6 ns
    const firstBit = full.storeAt + l.postedWrite + 2 * l.dmaRead + l.macTx;
    expect(full.endPs).toBe(ps(firstBit, full.clockHz) + wire);
    // The same packet with instantaneous DMA reads leaves exactly two round trips earlier.
    const noReads: PcieLatency = { ...l, dmaRead: 0 };
    const quick = sendOne({ latency: noReads });
    expect(full.endPs - quick.endPs).toBe(ps(full.storeAt + 2 * l.dmaRead, full.clockHz) - ps(quick.storeAt, full.clockHz));
  });

  it('an RX write-back is invisible to a polling CPU until it lands: the receive pipeline, then one posted write', () => {
    const { r, nic, drv } = nicRig();
    drv.setupRx(0, 8);
    drv.w(R.RXCTRL, R.RXCTRL_RXEN);
    drv.flush();
    const at = r.cpu.cycles + 1000;
    nic.receiveAt(at, segment(1));
    const landed = at + nic.latency.macRx + nic.latency.postedWrite;
    // The configuration's writes were flushed by the read; their arrival events are spent.
    while (r.m.nextEventAt < landed) r.m.advanceToNextEvent();
    expect(r.m.nextEventAt).toBe(landed);
    // Polled before it lands, with the CPU's clock past the frame's arrival and the pipeline: no DD yet.
    r.cpu.cycles = Math.max(r.cpu.cycles, at + nic.latency.macRx);
    expect(drv.rxDone(0, 0)).toBe(false);
    r.m.advanceToNextEvent();
    expect(drv.rxDone(0, 0)).toBe(true);
    expect(Math.max(...r.m.cpus.map((c) => c.cycles))).toBeGreaterThanOrEqual(landed);
  });

  it("a TX write-back (DD) and its interrupt cause land one posted write after the frame's last bit", () => {
    const { r, nic, drv } = nicRig();
    let endPs = -1;
    nic.onTransmit = (_f, e) => (endPs = e);
    drv.setupTx(0, 8);
    drv.txContext(0, 0);
    drv.txData(0, 1, segment(2), { offload: true });
    drv.w(R.tdt(0), 2);
    while (endPs < 0) r.m.advanceToNextEvent();
    // The frame has left; its DD is on its way.
    expect(drv.txDone(0, 1)).toBe(false);
    expect((r.m.costs.clockHz * endPs) / 1e12 + nic.latency.postedWrite).toBeCloseTo(r.m.nextEventAt, 3);
    r.m.advanceToNextEvent();
    expect(drv.txDone(0, 1)).toBe(true);
  });
});

/** Two bare 82599 ports on the IX testbed's path (cables and the Trident+ switch), each driven from outside. */
const testbedPair = (): ReturnType<typeof connectedPair> => connectedPair(IX_TESTBED_PATH, NIC_MAC);

/** A frame from a's doorbell store to its write-back landing in b's RAM; every time in ps of cluster time. */
function oneWay(): { store: number; landed: number; lastBit: number } {
  const { cluster, a, b } = testbedPair();
  b.setupRx(0, 8);
  b.w(R.RXCTRL, R.RXCTRL_RXEN);
  b.flush();
  a.setupTx(0, 8);
  a.txContext(0, 0);
  a.txData(0, 1, segment(3), { offload: true });
  // Both machines' clocks at one present, so that the store's time is the cluster's.
  const start = Math.max(a.cpu.cycles, b.cpu.cycles) + 1000;
  a.cpu.cycles = start;
  b.cpu.cycles = start;
  a.w(R.tdt(0), 2);
  const store = Cluster.psAt(a.r.m, a.cpu.cycles);
  let lastBit = -1;
  const handOff = a.nic.onTransmit;
  a.nic.onTransmit = (f, e) => {
    lastBit = e;
    handOff(f, e);
  };
  let landed = -1;
  const place = b.nic.rx.receive.bind(b.nic.rx);
  b.nic.rx.receive = (f) => {
    landed = Cluster.psAt(b.r.m, b.nic.now());
    place(f);
  };
  cluster.run();
  expect(b.rxDone(0, 0)).toBe(true);
  return { store, landed, lastBit };
}

describe('a one-way trip on the IX testbed, decomposed', () => {
  it('store to write-back landing is exactly the sum of its parts: doorbell, two fetches, MAC, wire, cables and switch, MAC, write-back', () => {
    const t = oneWay();
    const costs = rig({ memory: 1 << 20 }).m.costs;
    const l = pcieLatencyOf(costs);
    const hz = costs.clockHz;
    const parts = {
      doorbell: (l.postedWrite * 1e12) / hz,
      descriptorFetch: (l.dmaRead * 1e12) / hz,
      bufferFetch: (l.dmaRead * 1e12) / hz,
      macTx: (l.macTx * 1e12) / hz,
      serialisation: (tcpSegmentWireBytes(64) * 8 * 1e12) / 10e9,
      path: pathSeconds(IX_TESTBED_PATH) * 1e12,
      macRx: (l.macRx * 1e12) / hz,
      writeBack: (l.postedWrite * 1e12) / hz,
    };
    const sum = Object.values(parts).reduce((s, v) => s + v, 0);
    // Rounded to whole picoseconds at two points (the wire's start and the path): within 2 ps.
    expect(Math.abs(t.landed - t.store - sum)).toBeLessThanOrEqual(2);
    // The part up to the frame's last bit is the sender's: doorbell, fetches, MAC, serialisation.
    const sender = parts.doorbell + parts.descriptorFetch + parts.bufferFetch + parts.macTx + parts.serialisation;
    expect(Math.abs(t.lastBit - t.store - sender)).toBeLessThanOrEqual(1);
    // The I/O path alone (PCIe and the two MACs) is about a third of the whole here.
    expect(sum - parts.serialisation - parts.path).toBeGreaterThan(1e6);
  });

  it('is deterministic: the same trip twice gives the same picoseconds', () => {
    expect(oneWay()).toEqual(oneWay());
  });
});
