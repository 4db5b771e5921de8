import { describe, expect, it } from 'vitest';
import * as R from '../../../core/vtx/devices/nic-registers.js';
import { buildFrame, drainEvents, nicRig } from './nic-driver.js';
import { RSS_VECTORS } from './rss-vectors.js';

const VECTORS = RSS_VECTORS;

/** A redirection table that is not the identity, so the queue proves the RETA look-up. */
const retaMap = (i: number): number => (i * 7 + 3) % 16;

function rssRig() {
  const t = nicRig();
  const { drv } = t;
  drv.setReta(retaMap);
  drv.w(R.MRQC, R.MRQC_MRQE_RSS | R.MRQC_RSS_TCPIPV4 | R.MRQC_RSS_IPV4 | R.MRQC_RSS_UDPIPV4);
  for (let q = 0; q < 16; q++) drv.setupRx(q, 8);
  drv.w(R.RXCTRL, R.RXCTRL_RXEN);
  return t;
}

describe('82599 receive: RSS steering and the write-back', () => {
  it("the Microsoft TCP/IPv4 vectors land on queue RETA[hash & 127] with the published hash in the write-back", () => {
    const { nic, drv } = rssRig();
    const used = new Array<number>(16).fill(0);
    for (const [dst, dstPort, src, srcPort, , tcp] of VECTORS) {
      const frame = buildFrame({ src, dst, srcPort, dstPort, payload: 64 });
      drv.flush(), nic.receive(frame);
      const q = retaMap(tcp & 127);
      const i = used[q]!++;
      expect(drv.rxDone(q, i)).toBe(true);
      const wb = drv.rxWriteback(q, i);
      expect(wb.hash >>> 0).toBe(tcp);
      expect(wb.rssType).toBe(R.RSSTYPE_TCP_IPV4);
      expect(wb.pktType).toBe(R.PKTTYPE_IPV4 | R.PKTTYPE_TCP);
      expect(wb.status >>> 0).toBe(R.RXD_STAT_DD | R.RXD_STAT_EOP | R.RXD_STAT_IPCS | R.RXD_STAT_L4CS); // no error bits
      expect(wb.length).toBe(frame.length);
      expect(drv.rxBuffer(q, i, frame.length)).toEqual(frame);
      expect(drv.rd(R.rdh(q))).toBe(used[q]);
    }
    // No other queue saw anything; the per-queue and global counters agree (and clear on read).
    for (let q = 0; q < 16; q++) expect(drv.rd(R.qprc(q))).toBe(used[q]);
    expect(drv.rd(R.GPRC)).toBe(5);
    expect(drv.rd(R.GPRC)).toBe(0);
  });

  it('IPv4 without a TCP or UDP header hashes the address pair: the Microsoft IPv4 vectors', () => {
    const { nic, drv } = rssRig();
    const used = new Array<number>(16).fill(0);
    for (const [dst, , src, , ipv4] of VECTORS) {
      drv.flush(), nic.receive(buildFrame({ src, dst, protocol: 1, payload: 32 })); // ICMP
      const q = retaMap(ipv4 & 127);
      const wb = drv.rxWriteback(q, used[q]!++);
      expect(wb.hash >>> 0).toBe(ipv4);
      expect(wb.rssType).toBe(R.RSSTYPE_IPV4);
      expect(wb.pktType).toBe(R.PKTTYPE_IPV4);
    }
  });

  it('with TCP hashing off in MRQC, TCP flows fall back to the 2-tuple; with RSS off, everything goes to queue 0 with no hash', () => {
    const { nic, drv } = rssRig();
    const [dst, dstPort, src, srcPort, ipv4] = VECTORS[0]!;
    drv.w(R.MRQC, R.MRQC_MRQE_RSS | R.MRQC_RSS_IPV4);
    drv.flush(), nic.receive(buildFrame({ src, dst, srcPort, dstPort, payload: 10 }));
    const q = retaMap(ipv4 & 127);
    expect(drv.rxWriteback(q, 0)).toMatchObject({ hash: ipv4 | 0, rssType: R.RSSTYPE_IPV4 });
    drv.w(R.MRQC, 0);
    drv.flush(), nic.receive(buildFrame({ src, dst, srcPort, dstPort, payload: 10 }));
    expect(drv.rxWriteback(0, q === 0 ? 1 : 0)).toMatchObject({ hash: 0, rssType: R.RSSTYPE_NONE });
  });

  it('checksum status: a bad TCP checksum sets TCPE, a bad IPv4 header checksum IPE; UDP is checked too', () => {
    const { nic, drv } = rssRig();
    drv.w(R.MRQC, 0); // all to queue 0
    const good = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1000, dstPort: 80, payload: 20 });
    const badL4 = good.slice();
    badL4[14 + 20 + 20] ^= 0xff; // payload corrupted, checksum unchanged
    const badIp = good.slice();
    badIp[14 + 8] = 3; // TTL changed, header checksum unchanged
    const udp = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 53, dstPort: 53, protocol: 17, payload: 9 });
    for (const f of [good, badL4, badIp, udp]) drv.flush(), nic.receive(f);
    const st = [0, 1, 2, 3].map((i) => drv.rxWriteback(0, i).status >>> 0);
    expect(st[0]! & (R.RXD_ERR_TCPE | R.RXD_ERR_IPE)).toBe(0);
    expect(st[1]! & (R.RXD_ERR_TCPE | R.RXD_ERR_IPE)).toBe(R.RXD_ERR_TCPE >>> 0);
    expect((st[2]! & R.RXD_ERR_IPE) >>> 0).toBe(R.RXD_ERR_IPE >>> 0);
    expect(st[3]! & (R.RXD_STAT_UDPCS | R.RXD_STAT_L4CS | R.RXD_ERR_TCPE)).toBe(R.RXD_STAT_UDPCS | R.RXD_STAT_L4CS);
    expect(drv.rxWriteback(0, 3).pktType).toBe(R.PKTTYPE_IPV4 | R.PKTTYPE_UDP);
  });

  it('the destination filter: other unicast addresses are dropped unless FCTRL.UPE; broadcast needs BAM', () => {
    const { nic, drv } = rssRig();
    drv.w(R.MRQC, 0);
    const other = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, dstMac: Uint8Array.from([2, 0, 0, 0, 0, 7]) });
    const bcast = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, dstMac: new Uint8Array(6).fill(0xff) });
    drv.flush(), nic.receive(other);
    expect(drv.rd(R.rdh(0))).toBe(0);
    expect(nic.filtered).toBe(1);
    drv.flush(), nic.receive(bcast); // FCTRL.BAM is set by init
    expect(drv.rd(R.rdh(0))).toBe(1);
    drv.w(R.FCTRL, R.FCTRL_UPE);
    drv.flush(), nic.receive(other);
    drv.flush(), nic.receive(bcast);
    expect(drv.rd(R.rdh(0))).toBe(2);
    expect(nic.filtered).toBe(2);
  });

  it('a frame larger than a buffer spans descriptors; only the last has EOP', () => {
    const { nic, drv } = rssRig();
    drv.w(R.MRQC, 0);
    const big = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload: 5000 });
    drv.flush(), nic.receive(big);
    const wbs = [0, 1, 2].map((i) => drv.rxWriteback(0, i));
    expect(wbs.map((w) => w.length)).toEqual([2048, 2048, big.length - 4096]);
    expect(wbs.map((w) => (w.status & (R.RXD_STAT_DD | R.RXD_STAT_EOP)) >>> 0)).toEqual([1, 1, 3]);
    expect(drv.rxBuffer(0, 2, big.length - 4096)).toEqual(big.subarray(4096));
    expect(drv.rd(R.rdh(0))).toBe(3);
  });
});

describe('82599 receive: a full ring', () => {
  const frame = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 7, dstPort: 7, payload: 64 });

  it('with SRRCTL.DROP_EN, frames beyond the posted descriptors are dropped and counted in QPRDC', () => {
    const { nic, drv } = nicRig();
    drv.setupRx(0, 8, 7, R.SRRCTL_DROP_EN); // RDT = 7: descriptors 0..6 are the device's
    drv.w(R.RXCTRL, R.RXCTRL_RXEN);
    for (let i = 0; i < 10; i++) drv.flush(), nic.receive(frame);
    expect(drv.rd(R.rdh(0))).toBe(7);
    expect(drv.rd(R.qprc(0))).toBe(7);
    expect(drv.rd(R.qprdc(0))).toBe(3);
    // Software takes the seven, re-arms them and moves the tail: reception resumes.
    for (let i = 0; i < 7; i++) drv.armRx(0, i);
    drv.w(R.rdt(0), 6);
    drv.flush(), nic.receive(frame);
    expect(drv.rd(R.rdh(0))).toBe(0); // wrapped: descriptor 7 was used
    expect(drv.rxDone(0, 7)).toBe(true);
  });

  it('without DROP_EN, frames wait in the packet buffer and land in order when descriptors are posted; a full buffer counts MPC', () => {
    const { nic, drv } = nicRig({ rxPacketBuffer: 3 * frame.length });
    drv.setupRx(0, 8, 2);
    drv.w(R.RXCTRL, R.RXCTRL_RXEN);
    const frames = [0, 1, 2, 3, 4, 5, 6].map((i) => buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 7, dstPort: 7, payload: 64, ipId: i }));
    for (const f of frames) drv.flush(), nic.receive(f);
    expect(drv.rd(R.rdh(0))).toBe(2); // two placed, three waiting, two missed
    expect(drv.rd(R.mpc(0))).toBe(2);
    drv.w(R.rdt(0), 7);
    expect(drv.rd(R.rdh(0))).toBe(5);
    // Descriptors 2..4 hold frames 2..4 (the ones that waited), in arrival order.
    for (const i of [2, 3, 4]) expect(drv.rxBuffer(0, i, frames[i]!.length)).toEqual(frames[i]);
  });

  it('a ring pointed outside RAM is a master abort: nothing is written, no register of any device is touched', () => {
    const { r, nic, drv } = nicRig();
    drv.setupRx(0, 8);
    drv.w(R.RXCTRL, R.RXCTRL_RXEN);
    drv.flush(), nic.receive(frame); // counted in GPRC (not read yet)
    const claimed = r.m.mmio.claimed;
    drv.w(R.rdbal(0), 0xf000_4000); // the NIC's own BAR0, statistics page
    drv.flush();
    const afterWrite = r.m.mmio.claimed;
    nic.receive(frame);
    expect(r.m.mmio.claimed).toBe(afterWrite); // the device's DMA reached no device
    expect(afterWrite).toBe(claimed + 2); // the write and the flushing read
    expect(nic.dmaAborts).toBeGreaterThan(0);
    expect(drv.rd(R.GPRC)).toBe(2);
    drainEvents(r);
  });
});

describe('82599 receive: EtherType queue filters (ETQF/ETQS)', () => {
  const LOCAL_EXPERIMENTAL = 0x88b5;
  function withEtherType(type: number): Uint8Array {
    const f = buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1000, dstPort: 2000, payload: 64 });
    f[12] = type >>> 8;
    f[13] = type & 0xff;
    return f;
  }

  it('a frame whose EtherType an enabled filter names goes to the filter\'s queue before RSS; other frames keep RSS', () => {
    const { nic, drv } = rssRig();
    drv.w(R.etqs(3), R.ETQS_QUEUE_EN | (5 << R.ETQS_RX_QUEUE_SHIFT));
    drv.w(R.etqf(3), R.ETQF_FILTER_EN | LOCAL_EXPERIMENTAL);
    drv.flush(), nic.receive(withEtherType(LOCAL_EXPERIMENTAL));
    expect(drv.rd(R.qprc(5))).toBe(1);
    const wb = drv.rxWriteback(5, 0);
    expect(wb.rssType).toBe(R.RSSTYPE_NONE);
    expect(wb.status & R.RXD_STAT_DD).toBe(R.RXD_STAT_DD);
    // An IPv4/TCP frame is not matched by the filter: RSS still picks its queue.
    const [dst, dstPort, src, srcPort, , tcp] = VECTORS[0]!;
    drv.flush(), nic.receive(buildFrame({ src, dst, srcPort, dstPort, payload: 64 }));
    expect(drv.rd(R.qprc(retaMap(tcp & 127)))).toBe(1);
  });

  it('a frame for a queue that is switched off is dropped at once and holds up no other queue (without DROP_EN)', () => {
    const { nic, drv } = rssRig();
    drv.w(R.etqs(3), R.ETQS_QUEUE_EN | (5 << R.ETQS_RX_QUEUE_SHIFT));
    drv.w(R.etqf(3), R.ETQF_FILTER_EN | LOCAL_EXPERIMENTAL);
    drv.w(R.rxdctl(5), 0); // queue 5 off; SRRCTL.DROP_EN is clear on every queue of this rig
    drv.flush(), nic.receive(withEtherType(LOCAL_EXPERIMENTAL));
    expect(nic.rx.disabledDrops).toBe(1);
    expect(drv.rd(R.qprc(5))).toBe(0);
    // The next frame, for an enabled queue, lands now: nothing waits in the packet buffer ahead of it.
    const [dst, dstPort, src, srcPort, , tcp] = VECTORS[0]!;
    drv.flush(), nic.receive(buildFrame({ src, dst, srcPort, dstPort, payload: 64 }));
    expect(drv.rd(R.qprc(retaMap(tcp & 127)))).toBe(1);
  });

  it('a disabled filter, or one whose ETQS queue enable is clear, steers nothing (queue 0: the frame is not IPv4)', () => {
    const { nic, drv } = rssRig();
    drv.w(R.etqs(0), R.ETQS_QUEUE_EN | (5 << R.ETQS_RX_QUEUE_SHIFT));
    drv.w(R.etqf(0), LOCAL_EXPERIMENTAL); // FILTER_EN clear
    drv.flush(), nic.receive(withEtherType(LOCAL_EXPERIMENTAL));
    drv.w(R.etqf(0), R.ETQF_FILTER_EN | LOCAL_EXPERIMENTAL);
    drv.w(R.etqs(0), 5 << R.ETQS_RX_QUEUE_SHIFT); // QUEUE_EN clear
    drv.flush(), nic.receive(withEtherType(LOCAL_EXPERIMENTAL));
    expect(drv.rd(R.qprc(0))).toBe(2);
    expect(drv.rd(R.qprc(5))).toBe(0);
  });
});
