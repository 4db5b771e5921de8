/**
 * The Toeplitz hash of receive-side scaling (RSS), as Microsoft's NDIS specification defines it
 * and the Intel 82599 implements it (82599 datasheet §7.1.2.8): for each bit of the input, from
 * the most significant bit of its first byte on, when the bit is 1 the result is XORed with the
 * 32 bits of the secret key that start at that bit's position. A 40-byte (320-bit) key covers an
 * input of up to 36 bytes (an IPv6 4-tuple).
 *
 * For speed the key is expanded once into a table per input byte position: `table[i * 256 + b]`
 * is the XOR that byte value `b` at position `i` contributes. Hashing is then one look-up per
 * input byte, with no allocation.
 */
export class ToeplitzHash {
  /** Input bytes the key can cover: 32 bits of key are needed past the last input bit. */
  readonly maxInput: number;
  private readonly table: Uint32Array;
  /** Scratch input of the 4-tuple helpers (12 bytes: addresses then ports). */
  private readonly tuple = new Uint8Array(12);

  constructor(readonly key: Uint8Array) {
    if (key.length < 8) throw new RangeError(`an RSS key needs at least 8 bytes, got ${key.length}`);
    this.maxInput = key.length - 4;
    this.table = new Uint32Array(this.maxInput * 256);
    for (let i = 0; i < this.maxInput; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const window = this.window(i * 8 + bit);
        const mask = 0x80 >>> bit;
        for (let b = 0; b < 256; b++) if ((b & mask) !== 0) this.table[i * 256 + b] ^= window;
      }
    }
  }

  /** The 32 key bits starting at bit `pos` (bit 0: the most significant bit of key[0]). */
  private window(pos: number): number {
    let w = 0;
    for (let k = 0; k < 32; k++) {
      const p = pos + k;
      const bit = (this.key[p >>> 3]! >>> (7 - (p & 7))) & 1;
      w = (w << 1) | bit;
    }
    return w >>> 0;
  }

  /** The hash of `len` bytes of `input` from `offset` (network byte order, as on the wire). */
  hash(input: Uint8Array, offset = 0, len = input.length - offset): number {
    if (len > this.maxInput) throw new RangeError(`RSS input of ${len} bytes exceeds what a ${this.key.length}-byte key covers (${this.maxInput})`);
    const t = this.table;
    let h = 0;
    for (let i = 0; i < len; i++) h ^= t[i * 256 + input[offset + i]!]!;
    return h >>> 0;
  }

  /** NdisHashIpv4: source address, then destination address (each a 32-bit number, a.b.c.d = a<<24|…). */
  ipv4(src: number, dst: number): number {
    const b = this.tuple;
    put32(b, 0, src);
    put32(b, 4, dst);
    return this.hash(b, 0, 8);
  }

  /** NdisHashTcpIpv4: source address, destination address, source port, destination port. */
  ipv4Tcp(src: number, dst: number, srcPort: number, dstPort: number): number {
    const b = this.tuple;
    put32(b, 0, src);
    put32(b, 4, dst);
    b[8] = (srcPort >>> 8) & 0xff;
    b[9] = srcPort & 0xff;
    b[10] = (dstPort >>> 8) & 0xff;
    b[11] = dstPort & 0xff;
    return this.hash(b, 0, 12);
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** "a.b.c.d" as the 32-bit number the hash helpers take. */
export function ipv4Address(dotted: string): number {
  const parts = dotted.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new RangeError(`not an IPv4 address: '${dotted}'`);
  return parts.reduce((a, p) => a * 256 + Number(p), 0);
}

/**
 * The key Microsoft's RSS verification suite uses (also the 82599 datasheet's, and the default of
 * many drivers): the hashes of its published vectors are what `ToeplitzHash` must reproduce.
 */
export const MICROSOFT_RSS_KEY = Uint8Array.from([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
]);
