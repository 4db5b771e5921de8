/**
 * Initial sequence numbers as Linux's secure_tcp_seq makes them (RFC 6528): a keyed hash of the
 * 4-tuple, so that no outsider can guess them, plus a clock that moves one step every 64 ns
 * (ktime_get_real_ns() >> 6), so a new incarnation of the same 4-tuple starts above the old one.
 * The key is the caller's (a seeded secret): the same key and the same times give the same
 * numbers. The hash is HalfSipHash-2-4's round function over 32-bit words (Linux uses siphash).
 */
export class IsnGenerator {
  private readonly k0: number;
  private readonly k1: number;

  constructor(secret: number) {
    this.k0 = secret >>> 0;
    this.k1 = Math.imul(secret ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  }

  /** A keyed 32-bit hash of three words. */
  hash3(a: number, b: number, c: number): number {
    let v0 = this.k0 | 0;
    let v1 = this.k1 | 0;
    let v2 = (0x6c796765 ^ this.k0) | 0;
    let v3 = (0x74656462 ^ this.k1) | 0;
    const round = (): void => {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    };
    for (const m of [a | 0, b | 0, c | 0, 12 << 24]) {
      v3 ^= m;
      round();
      round();
      v0 ^= m;
    }
    v2 ^= 0xff;
    round(); round(); round(); round();
    return (v1 ^ v3) >>> 0;
  }

  /** The ISN of a connection from (saddr, sport) to (daddr, dport) at `nowNs`. */
  isn(saddr: number, daddr: number, sport: number, dport: number, nowNs: number): number {
    const h = this.hash3(saddr, daddr, ((sport << 16) | dport) >>> 0);
    return (h + Math.floor(nowNs / 64)) >>> 0;
  }
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}
