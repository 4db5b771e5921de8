import { describe, expect, it } from 'vitest';
import { MICROSOFT_RSS_KEY, ToeplitzHash, ipv4Address } from '../../../core/vtx/devices/toeplitz-hash.js';
import { RETA_ENTRIES, RssRedirection } from '../../../core/vtx/devices/rss-redirection.js';
import { frameBytes, lineRateFrames, serialisationSeconds, tcpSegmentWireBytes, wireBytes } from '../../../core/vtx/devices/ethernet-wire.js';
import { RSS_VECTORS } from './rss-vectors.js';

const VECTORS = RSS_VECTORS;

/** The specification's pseudo-code, bit by bit, as the reference the table-driven hash must match. */
function reference(key: Uint8Array, input: Uint8Array): number {
  let result = 0;
  for (let bit = 0; bit < input.length * 8; bit++) {
    if (((input[bit >>> 3]! >>> (7 - (bit & 7))) & 1) === 0) continue;
    let w = 0;
    for (let k = 0; k < 32; k++) w = ((w << 1) | ((key[(bit + k) >>> 3]! >>> (7 - ((bit + k) & 7))) & 1)) >>> 0;
    result = (result ^ w) >>> 0;
  }
  return result;
}

describe('RSS: the Toeplitz hash', () => {
  const h = new ToeplitzHash(MICROSOFT_RSS_KEY);

  for (const [dst, dstPort, src, srcPort, ipv4, tcp] of VECTORS) {
    it(`reproduces Microsoft's vector ${src}:${srcPort} → ${dst}:${dstPort}`, () => {
      expect(h.ipv4(ipv4Address(src), ipv4Address(dst))).toBe(ipv4);
      expect(h.ipv4Tcp(ipv4Address(src), ipv4Address(dst), srcPort, dstPort)).toBe(tcp);
    });
  }

  it('equals the bit-by-bit definition on random inputs of every length the key covers (and keys)', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (let trial = 0; trial < 200; trial++) {
      const key = trial % 2 === 0 ? MICROSOFT_RSS_KEY : Uint8Array.from({ length: 40 }, rnd);
      const input = Uint8Array.from({ length: trial % 37 }, rnd);
      expect(new ToeplitzHash(key).hash(input)).toBe(reference(key, input));
    }
  });

  it('refuses an input longer than the key covers, a short key and a malformed address', () => {
    expect(() => h.hash(new Uint8Array(37))).toThrow(/exceeds what a 40-byte key covers \(36\)/);
    expect(() => new ToeplitzHash(new Uint8Array(4))).toThrow(/at least 8 bytes/);
    expect(() => ipv4Address('1.2.3.256')).toThrow(/not an IPv4 address/);
  });
});

describe('RSS: the redirection table', () => {
  const h = new ToeplitzHash(MICROSOFT_RSS_KEY);

  it('sends a flow to the queue of the entry its hash\'s 7 low bits select; by default entry i is queue i mod N', () => {
    const rss = new RssRedirection(h, 6);
    expect([...rss.table.slice(0, 8)]).toEqual([0, 1, 2, 3, 4, 5, 0, 1]);
    const [dst, dstPort, src, srcPort, , tcp] = VECTORS[0]!;
    const args = [ipv4Address(src), ipv4Address(dst), srcPort, dstPort] as const;
    expect(rss.group(...args)).toBe(tcp & 0x7f);
    expect(rss.queueOf(...args)).toBe((tcp & 0x7f) % 6);
    rss.assign(tcp & 0x7f, 5); // the control plane moves that flow group
    expect(rss.queueOf(...args)).toBe(5);
    expect(RETA_ENTRIES).toBe(128);
    expect(() => rss.assign(128, 0)).toThrow(/RETA index/);
    expect(() => rss.assign(0, 6)).toThrow(/queue 6/);
    expect(() => new RssRedirection(h, 17)).toThrow(/1 to 16 queues/);
  });
});

describe('Ethernet on the wire', () => {
  it('a 64-byte TCP payload is a 142-byte frame on the wire: 8.8 M frames/s at 10 Gb/s', () => {
    expect(tcpSegmentWireBytes(64)).toBe(142);
    expect(lineRateFrames(10e9, 142) / 1e6).toBeCloseTo(8.80, 2);
    expect(lineRateFrames(40e9, 142) / 1e6).toBeCloseTo(35.2, 1); // 4 × 10 GbE
    expect(serialisationSeconds(10e9, 142) * 1e9).toBeCloseTo(113.6, 1); // ns per frame
  });

  it('pads short frames to 64 bytes: a bare TCP ACK is 84 bytes on the wire, 14.88 M frames/s at 10 Gb/s', () => {
    expect(frameBytes(40)).toBe(64);
    expect(wireBytes(40)).toBe(84);
    expect(lineRateFrames(10e9, 84) / 1e6).toBeCloseTo(14.88, 2);
  });
});
