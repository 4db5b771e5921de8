import { describe, expect, it } from 'vitest';
import { EventQueue, picoseconds } from '../../core/cluster/event-queue.js';
import { Frame, Link } from '../../core/cluster/link.js';
import { EthernetSwitch } from '../../core/cluster/ethernet-switch.js';
import { LatencyHistogram } from '../../core/cluster/latency-histogram.js';
import { ClosedLoopClients, OpenLoopPoisson, SeededRandom } from '../../core/cluster/load-generators.js';
import { tcpSegmentWireBytes } from '../../core/vtx/devices/ethernet-wire.js';

const TEN_GBE = { bitsPerSecond: 10e9, propagationSeconds: 10e-9 };
const FRAME = tcpSegmentWireBytes(64); // 142 bytes: a 64-byte message over TCP/IPv4

describe('event queue', () => {
  it('runs events in time order, ties in the order scheduled, and refuses the past', () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(30, () => seen.push('c'));
    q.at(10, () => seen.push('a1'));
    q.at(10, () => {
      seen.push('a2');
      q.after(0, () => seen.push('a3')); // same time, scheduled later: runs after a2
    });
    q.at(20, () => seen.push('b'));
    expect(q.run(25)).toBe(4);
    expect(seen).toEqual(['a1', 'a2', 'a3', 'b']);
    expect(q.now).toBe(25);
    expect(() => q.at(24, () => {})).toThrow(/before now/);
    expect(() => q.at(30.5, () => {})).toThrow(/whole picoseconds/);
    q.run();
    expect(seen.at(-1)).toBe('c');
  });
});

describe('links and a switch', () => {
  it('serialises frames back to back at the line rate: 8.8 M 142-byte frames per second on 10 GbE', () => {
    const q = new EventQueue();
    const arrivals: number[] = [];
    const link = new Link(q, TEN_GBE, { deliver: () => arrivals.push(q.now) });
    for (let i = 0; i < 1000; i++) link.send({ wire: FRAME, payload: i });
    q.run();
    expect(link.serialisation(FRAME)).toBe(113_600); // ps
    expect(arrivals[0]).toBe(113_600 + 10_000);
    expect(arrivals[999]! - arrivals[0]!).toBe(999 * 113_600);
    const perSecond = 999 / ((arrivals[999]! - arrivals[0]!) / 1e12);
    expect(perSecond / 1e6).toBeCloseTo(8.80, 2);
  });

  it('drops at a full transmit queue (drop-tail), and counts it', () => {
    const q = new EventQueue();
    const link = new Link(q, { ...TEN_GBE, queueBytes: 10 * FRAME }, { deliver: () => {} });
    let accepted = 0;
    for (let i = 0; i < 25; i++) if (link.send({ wire: FRAME, payload: i })) accepted++;
    expect(accepted).toBe(10);
    expect(link.dropped).toBe(15);
    q.run();
    expect(link.frames).toBe(10);
  });

  it('incast: two hosts sending at line rate to one congest only its port; the switch forwards by destination', () => {
    const q = new EventQueue();
    const got: Record<string, number> = { a: 0, b: 0, c: 0 };
    const sw = new EthernetSwitch<{ dst: string }>(q, 500_000); // 0.5 µs through the fabric
    for (const h of ['a', 'b', 'c']) sw.attach(h, { ...TEN_GBE, queueBytes: 64 * FRAME }, { deliver: () => got[h]!++ });
    const up = (h: string): Link<{ dst: string }> => new Link(q, TEN_GBE, sw);
    const fromA = up('a');
    const fromB = up('b');
    for (let i = 0; i < 500; i++) {
      fromA.send({ wire: FRAME, payload: { dst: 'c' } });
      fromB.send({ wire: FRAME, payload: { dst: 'c' } });
    }
    fromA.send({ wire: FRAME, payload: { dst: 'nobody' } });
    q.run();
    const port = sw.port(2);
    expect(got.c).toBe(port.frames);
    expect(port.dropped).toBeGreaterThan(0); // 2 × 10 Gb/s into one 10 Gb/s port
    expect(port.frames + port.dropped).toBe(1000);
    expect(got.a + got.b).toBe(0);
    expect(sw.unknown).toBe(1);
  });
});

describe('latency histogram', () => {
  it('reports percentiles to within 1/128 of the value, never below it', () => {
    const h = new LatencyHistogram(128);
    for (let v = 1; v <= 100_000; v++) h.record(v * 1000);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = Math.ceil((p / 100) * 100_000) * 1000;
      const got = h.percentile(p);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect((got - exact) / exact).toBeLessThan(1 / 64);
    }
    expect(h.percentile(100)).toBe(100_000_000);
    expect(h.mean()).toBeCloseTo(50_000_500, 0);
    expect(() => h.record(-1)).toThrow(/≥ 0/);
  });
});

describe('load generators', () => {
  it('xoshiro128** gives the reference sequence from state {1, 2, 3, 4}', () => {
    const r = SeededRandom.fromState(1, 2, 3, 4);
    expect(Array.from({ length: 6 }, () => r.nextUint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('closed loop: one connection\'s echo round trip is exactly what the wire, the switch and the server add', () => {
    const q = new EventQueue();
    const service = picoseconds(2e-6); // the server answers 2 µs after the request arrives
    type Msg = { dst: string; reply?: () => void };
    const sw = new EthernetSwitch<Msg>(q, 500_000);
    const server = { deliver: (f: Frame<Msg>): void => q.after(service, () => toSwitchFromServer.send({ wire: FRAME, payload: { dst: 'client', reply: f.payload.reply } })) };
    const client = { deliver: (f: Frame<Msg>): void => f.payload.reply!() };
    sw.attach('server', TEN_GBE, server);
    sw.attach('client', TEN_GBE, client);
    const toSwitchFromClient = new Link<Msg>(q, TEN_GBE, sw);
    const toSwitchFromServer = new Link<Msg>(q, TEN_GBE, sw);
    const clients = new ClosedLoopClients(q, 1, 100, (_c, reply) => toSwitchFromClient.send({ wire: FRAME, payload: { dst: 'server', reply } }));
    clients.start();
    q.run();
    expect(clients.completed).toBe(100);
    // Each way: serialise + propagate to the switch, forward, serialise + propagate out.
    const oneWay = 2 * (113_600 + 10_000) + 500_000;
    expect(clients.latency.min).toBe(2 * oneWay + service);
    expect(clients.latency.max).toBe(2 * oneWay + service);
    expect(clients.throughput()).toBeCloseTo(1e12 / (2 * oneWay + service), 3);
  });

  it('open loop: Poisson arrivals at the asked rate, the same on every run of a seed', () => {
    const run = (seed: number): { issued: number; p99: number } => {
      const q = new EventQueue();
      const gen = new OpenLoopPoisson(q, 1e6, 16, seed, (_c, reply) => q.after(picoseconds(5e-6), reply));
      gen.start(0.05); // 50 ms at 1 M requests/s
      q.run();
      expect(gen.completed).toBe(gen.issued);
      return { issued: gen.issued, p99: gen.latency.percentile(99) };
    };
    const a = run(7);
    expect(a).toEqual(run(7));
    expect(a.issued / 50_000).toBeGreaterThan(0.98);
    expect(a.issued / 50_000).toBeLessThan(1.02);
    expect(run(8).issued).not.toBe(a.issued);
  });
});
