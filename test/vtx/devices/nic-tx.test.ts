import { describe, expect, it } from 'vitest';
import { tcpSegmentWireBytes } from '../../../core/vtx/devices/ethernet-wire.js';
import { Nic82599 } from '../../../core/vtx/devices/nic-82599.js';
import * as R from '../../../core/vtx/devices/nic-registers.js';
import { rig } from '../helpers.js';
import { TestDriver, buildFrame, checksumsValid, drainEvents, nicRig } from './nic-driver.js';

interface Sent {
  frame: Uint8Array;
  endPs: number;
}

function capture(nic: Nic82599): Sent[] {
  const sent: Sent[] = [];
  nic.onTransmit = (frame, endPs) => sent.push({ frame, endPs });
  return sent;
}

const segment = (i: number, mode: 'full' | 'seed'): Uint8Array =>
  buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000 + (i % 1000), dstPort: 11211, payload: 64, checksums: mode, ipId: i });

/** Posts `n` 64-byte-payload TCP segments with checksum offload on TX queue q, after one context descriptor. */
function postSegments(drv: TestDriver, q: number, n: number): void {
  drv.txContext(q, 0);
  for (let i = 0; i < n; i++) drv.txData(q, i + 1, segment(i, 'seed'), { offload: true });
}

describe('82599 transmit', () => {
  it('1000 TCP segments with 64-byte payloads leave back to back at 8.8 M frames/s on 10 GbE, checksums inserted', () => {
    const { r, nic, drv } = nicRig();
    const sent = capture(nic);
    drv.setupTx(0, 1024);
    postSegments(drv, 0, 1000);
    const t0 = drv.cpu.cycles;
    drv.w(R.tdt(0), 1001);
    drainEvents(r);
    expect(sent).toHaveLength(1000);
    // Each frame occupies 142 bytes of wire time: 113.6 ns at 10 Gb/s, exactly, one after another.
    expect(tcpSegmentWireBytes(64)).toBe(142);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.endPs - sent[i - 1]!.endPs).toBe(113_600);
    const rate = ((sent.length - 1) * 1e12) / (sent[999]!.endPs - sent[0]!.endPs);
    expect(rate / 1e6).toBeCloseTo(8.803, 3);
    // The first frame started when the tail write had reached the device (the store, then the
    // posted write's trip), its descriptor and then its buffer had been fetched (two read round
    // trips) and the MAC's pipeline was through; the fetches of the rest overlapped the wire.
    const c = r.m.profile.constants;
    const firstBit = t0 + c.mmioWrite.value + c.pciePostedWrite.value + 2 * c.pcieDmaRead.value + c.macTxLatency.value;
    expect(sent[0]!.endPs).toBe(Math.round((firstBit * 1e12) / r.m.costs.clockHz) + 113_600);
    // The NIC's checksums are the ones the reference computes, and they verify afresh.
    for (let i = 0; i < 1000; i++) {
      expect(sent[i]!.frame).toEqual(segment(i, 'full'));
      expect(checksumsValid(sent[i]!.frame)).toEqual({ ip: true, l4: true });
    }
    // Write-back: DD on every data descriptor (RS set), TDH at the tail, counters.
    for (let i = 1; i <= 1000; i++) expect(drv.txDone(0, i)).toBe(true);
    expect(drv.rd(R.tdh(0))).toBe(1001);
    expect(drv.rd(R.GPTC)).toBe(1000);
    expect(drv.rd(R.qptc(0))).toBe(1000);
    expect(drv.rd(R.GOTCL)).toBe(1000 * (118 + 4));
  });

  it('without offload the frame leaves as the driver built it; a UDP context inserts the UDP checksum', () => {
    const { r, nic, drv } = nicRig();
    const sent = capture(nic);
    drv.setupTx(0, 16);
    const raw = buildFrame({ src: '10.1.1.1', dst: '10.1.1.2', srcPort: 5, dstPort: 6, payload: 33, checksums: 'none' });
    drv.txData(0, 0, raw);
    drv.txContext(0, 1, false);
    const udp = (m: 'full' | 'seed'): Uint8Array => buildFrame({ src: '10.1.1.1', dst: '10.1.1.2', srcPort: 53, dstPort: 53, protocol: 17, payload: 41, checksums: m });
    drv.txData(0, 2, udp('seed'), { offload: true });
    drv.w(R.tdt(0), 3);
    drainEvents(r);
    expect(sent[0]!.frame.subarray(0, raw.length)).toEqual(raw);
    expect(sent[0]!.frame.length).toBe(raw.length); // 14+20+20+33 ≥ 60: no padding
    expect(sent[1]!.frame).toEqual(udp('full'));
    expect(checksumsValid(sent[1]!.frame)).toEqual({ ip: true, l4: true });
  });

  it('a packet spread over descriptors goes out whole after its EOP is posted; short frames are padded to 60 bytes', () => {
    const { r, nic, drv } = nicRig();
    const sent = capture(nic);
    drv.setupTx(0, 16);
    const f = segment(1, 'full');
    drv.txData(0, 0, f.subarray(0, 50), { eop: false, rs: false });
    drv.txData(0, 1, f.subarray(50), {});
    drv.w(R.tdt(0), 1); // only the first half posted: nothing can go
    drainEvents(r);
    expect(sent).toHaveLength(0);
    expect(drv.rd(R.tdh(0))).toBe(0);
    drv.w(R.tdt(0), 2);
    drainEvents(r);
    expect(sent.map((s) => s.frame)).toEqual([f]);
    expect(drv.txDone(0, 0)).toBe(false); // no RS on the first descriptor: no write-back
    expect(drv.txDone(0, 1)).toBe(true);
    const tiny = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 1, payload: 2 }); // 36 bytes
    drv.txData(0, 2, tiny);
    drv.w(R.tdt(0), 3);
    drainEvents(r);
    expect(sent[1]!.frame.length).toBe(60);
    expect(sent[1]!.frame.subarray(0, 36)).toEqual(tiny);
    expect(sent[1]!.endPs - sent[0]!.endPs).toBeGreaterThanOrEqual(84 * 800); // a minimum frame is 84 wire bytes
  });

  it('16 queue pairs: the MAC serves the queues round robin, one packet each, back to back', () => {
    const { r, nic, drv } = nicRig();
    const sent = capture(nic);
    for (let q = 0; q < 16; q++) {
      drv.setupTx(q, 8);
      drv.txContext(q, 0);
      for (let k = 0; k < 2; k++) drv.txData(q, k + 1, buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: q, dstPort: k, payload: 64, checksums: 'seed' }), { offload: true });
    }
    for (let q = 0; q < 16; q++) drv.w(R.tdt(q), 3);
    drainEvents(r);
    const order = sent.map((s) => s.frame[14 + 20 + 1]! * 10 + s.frame[14 + 20 + 3]!); // srcPort*10 + dstPort
    const expected: number[] = [];
    // The tail writes (one per 100 ns) run ahead of the wire (113.6 ns a frame), so every queue
    // is ready when its turn comes: one packet of each queue in turn, twice.
    for (let k = 0; k < 2; k++) for (let q = 0; q < 16; q++) expected.push(q * 10 + k);
    expect(order).toEqual(expected);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.endPs - sent[i - 1]!.endPs).toBe(113_600);
    for (let q = 0; q < 16; q++) expect(drv.rd(R.qptc(q))).toBe(2);
    for (const s of sent) expect(checksumsValid(s.frame)).toEqual({ ip: true, l4: true });
  });

  it('4×10 GbE: four ports serialise independently, 35.2 M frames/s together', () => {
    const r = rig({ memory: 32 << 20 });
    const ports = [0, 1, 2, 3].map((p) => {
      const nic = new Nic82599(r.m, { name: `port${p}` });
      const drv = new TestDriver(r, nic, p);
      drv.init();
      drv.setupTx(0, 256);
      postSegments(drv, 0, 200);
      return { nic, drv, sent: capture(nic) };
    });
    for (const p of ports) p.drv.w(R.tdt(0), 201);
    drainEvents(r);
    let first = Infinity;
    let last = 0;
    let total = 0;
    for (const p of ports) {
      expect(p.sent).toHaveLength(200);
      for (let i = 1; i < 200; i++) expect(p.sent[i]!.endPs - p.sent[i - 1]!.endPs).toBe(113_600);
      total += (199 * 1e12) / (p.sent[199]!.endPs - p.sent[0]!.endPs);
      first = Math.min(first, p.sent[0]!.endPs);
      last = Math.max(last, p.sent[199]!.endPs);
    }
    expect(total / 1e6).toBeCloseTo(35.21, 2);
    // The ports run at once: all 800 frames leave within one port's time plus the tail writes' skew.
    expect(last - first).toBeLessThan(199 * 113_600 + 4 * 100_000);
  });

  it('back to back through a 25 ns wire: what one port sends arrives at another, checksums verified by its receive path', () => {
    const r = rig({ memory: 32 << 20 });
    const a = new Nic82599(r.m, { name: 'a' });
    const b = new Nic82599(r.m, { name: 'b', mac: Uint8Array.from([0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c]) });
    const da = new TestDriver(r, a, 0);
    const db = new TestDriver(r, b, 1);
    da.init();
    db.init();
    db.setupRx(0, 64);
    db.w(R.RXCTRL, R.RXCTRL_RXEN);
    da.setupTx(0, 64);
    postSegments(da, 0, 20);
    const arrivals: number[] = [];
    const propagationPs = 25_000;
    a.onTransmit = (frame, endPs) => {
      const at = ((endPs + propagationPs) * r.m.costs.clockHz) / 1e12;
      arrivals.push(at);
      b.receiveAt(at, frame);
    };
    da.w(R.tdt(0), 21);
    drainEvents(r);
    expect(arrivals).toHaveLength(20);
    expect(arrivals[1]! - arrivals[0]!).toBeCloseTo(113.6e-9 * r.m.costs.clockHz, 6); // back to back
    for (let i = 0; i < 20; i++) {
      const wb = db.rxWriteback(0, i);
      expect(wb.status >>> 0).toBe(R.RXD_STAT_DD | R.RXD_STAT_EOP | R.RXD_STAT_IPCS | R.RXD_STAT_L4CS);
      expect(db.rxBuffer(0, i, wb.length)).toEqual(segment(i, 'full'));
    }
  });

  it('is deterministic: the same run gives the same wire times and CPU cycles', () => {
    const run = (): number[] => {
      const { r, nic, drv } = nicRig();
      const sent = capture(nic);
      drv.setupTx(0, 64);
      postSegments(drv, 0, 50);
      drv.w(R.tdt(0), 51);
      drainEvents(r);
      return [...sent.map((s) => s.endPs), r.cpu.cycles];
    };
    expect(run()).toEqual(run());
  });

  it('CTRL.RST: registers return to their defaults, the frame on the wire is cut off without write-back, MSI-X entries are masked', () => {
    const { r, nic, drv } = nicRig();
    const sent = capture(nic);
    drv.setupTx(0, 8);
    drv.txData(0, 0, segment(0, 'full'));
    drv.msixEntry(0, 0x60);
    drv.w(R.tdt(0), 1); // the frame goes on the wire: 113.6 ns, while the next write takes 100 ns
    drv.w(R.CTRL, R.CTRL_RST);
    drainEvents(r);
    expect(sent).toHaveLength(0); // the reset cut the frame off mid-serialisation
    expect(drv.txDone(0, 0)).toBe(false); // and nothing is written into a ring the reset forgot
    expect(drv.rd(R.tdh(0))).toBe(0);
    expect(drv.rd(R.tdbal(0))).toBe(0);
    expect(drv.rd(R.CTRL) & R.CTRL_RST).toBe(0); // self-clearing
    expect(drv.rd(R.srrctl(0))).toBe(0x402); // 2 KiB buffers, 256-byte header buffers
    expect(drv.rd(R.RAL_ALIAS)).toBe(0x0a211b00); // the MAC from the EEPROM, byte 0 in bits 7:0
    expect(drv.rd(R.RAL_ALIAS + 4) >>> 0).toBe((R.RAH_AV | 0x0c0b) >>> 0);
    expect(drv.cpu.mmu.read32(drv.msixVa + 12)).toBe(1);
  });

  it('TSO and buffers outside RAM are refused without harm: counted, written back, the ring moves on', () => {
    const { r, nic, drv } = nicRig();
    const sent = capture(nic);
    drv.setupTx(0, 8);
    drv.txData(0, 0, segment(0, 'full'));
    drv.cpu.mmu.write64(drv.tx[0]!.base, 0xf000_0000, 0); // buffer: the NIC's own registers
    drv.txData(0, 1, segment(1, 'full'));
    drv.cpu.mmu.write32(drv.tx[0]!.base + 16 + 8, drv.cpu.mmu.read32(drv.tx[0]!.base + 16 + 8) | R.TXD_CMD_TSE);
    drv.txData(0, 2, segment(2, 'full'));
    const claimed = r.m.mmio.claimed;
    drv.w(R.tdt(0), 3);
    drainEvents(r);
    expect(r.m.mmio.claimed).toBe(claimed + 1); // only the tail write: the DMA touched no register
    expect(nic.dmaAborts).toBeGreaterThan(0);
    expect(nic.txErrors).toBe(1);
    expect(sent).toHaveLength(2); // the aborted read leaves all ones on the wire; TSO is dropped
    expect(sent[1]!.frame).toEqual(segment(2, 'full'));
    expect(drv.rd(R.tdh(0))).toBe(3);
  });
});
