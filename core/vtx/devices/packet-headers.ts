import { ETH_HEADER } from './ethernet-wire.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/**
 * What a NIC's parser finds in the first bytes of a frame: Ethernet II, IPv4 (RFC 791) and a TCP
 * or UDP header behind it. One instance is reused for every frame (`parse` allocates nothing).
 * Offsets are from the start of the frame; -1 means the layer is absent or not understood.
 */
export class PacketHeaders {
  etherType = 0;
  /** Offset of the IPv4 header, or -1. */
  l3 = -1;
  ipHeaderLength = 0;
  /** IPv4 total length (header and payload). */
  ipTotalLength = 0;
  protocol = 0;
  src = 0;
  dst = 0;
  /** A fragment (MF set or a fragment offset): no L4 header to hash or check. */
  fragment = false;
  /** Offset of the TCP or UDP header, or -1. */
  l4 = -1;
  srcPort = 0;
  dstPort = 0;

  /** Parses the first `len` bytes of `frame` (no FCS). */
  parse(frame: Uint8Array, len: number): this {
    this.l3 = -1;
    this.l4 = -1;
    this.fragment = false;
    this.protocol = 0;
    this.etherType = len >= ETH_HEADER ? (frame[12]! << 8) | frame[13]! : 0;
    if (this.etherType !== ETHERTYPE_IPV4 || len < ETH_HEADER + 20) return this;
    const ip = ETH_HEADER;
    const vihl = frame[ip]!;
    const ihl = (vihl & 0xf) * 4;
    const total = (frame[ip + 2]! << 8) | frame[ip + 3]!;
    if (vihl >>> 4 !== 4 || ihl < 20 || total < ihl || ip + total > len) return this;
    this.l3 = ip;
    this.ipHeaderLength = ihl;
    this.ipTotalLength = total;
    this.protocol = frame[ip + 9]!;
    this.src = be32(frame, ip + 12);
    this.dst = be32(frame, ip + 16);
    const frag = (frame[ip + 6]! << 8) | frame[ip + 7]!;
    this.fragment = (frag & 0x3fff) !== 0; // MF or a non-zero offset
    if (this.fragment) return this;
    const l4 = ip + ihl;
    const l4Len = total - ihl;
    if ((this.protocol === IPPROTO_TCP && l4Len >= 20) || (this.protocol === IPPROTO_UDP && l4Len >= 8)) {
      this.l4 = l4;
      this.srcPort = (frame[l4]! << 8) | frame[l4 + 1]!;
      this.dstPort = (frame[l4 + 2]! << 8) | frame[l4 + 3]!;
    }
    return this;
  }
}

export function be32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * The 16-bit one's-complement sum of RFC 1071 over `len` bytes from `at`, added to `sum`
 * (big-endian words; an odd last byte is padded with zero). Returned folded to 16 bits.
 */
export function onesComplementSum(b: Uint8Array, at: number, len: number, sum = 0): number {
  let s = sum;
  const end = at + len - 1;
  let i = at;
  for (; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i === end) s += b[i]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The sum of the TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768): addresses, protocol, L4 length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, l4Length: number): number {
  let s = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + l4Length;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
