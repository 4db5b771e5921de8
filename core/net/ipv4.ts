import { ETH_HLEN } from './ethernet.js';
import { internetChecksum } from './internet-checksum.js';

/** IPv4 (RFC 791) as the stack sends it: no options, DF set, TTL 64. */
export const IP_HLEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** net.ipv4.ip_default_ttl. */
export const IP_DEFAULT_TTL = 64;
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;
export const INADDR_ANY = 0;
export const INADDR_BROADCAST = 0xffff_ffff;

/** Where the IP header starts in a frame, and where its payload starts (no options sent). */
export const IP_OFF = ETH_HLEN;
export const L4_OFF = ETH_HLEN + IP_HLEN;

export function be16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function putBe16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function putBe32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Writes a 20-byte IPv4 header at IP_OFF with its checksum. */
export function writeIpv4Header(frame: Uint8Array, src: number, dst: number, protocol: number,
  payloadLength: number, id: number, ttl = IP_DEFAULT_TTL): void {
  const o = IP_OFF;
  frame[o] = 0x45; // version 4, IHL 5
  frame[o + 1] = 0; // DSCP / ECN
  putBe16(frame, o + 2, IP_HLEN + payloadLength);
  putBe16(frame, o + 4, id & 0xffff);
  putBe16(frame, o + 6, IP_DF);
  frame[o + 8] = ttl;
  frame[o + 9] = protocol;
  frame[o + 10] = 0;
  frame[o + 11] = 0;
  putBe32(frame, o + 12, src);
  putBe32(frame, o + 16, dst);
  putBe16(frame, o + 10, internetChecksum(frame, o, IP_HLEN));
}

export function ipToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Parses dotted-quad notation; throws a RangeError naming the bad text. */
export function ipFromString(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const parts = m === null ? [] : m.slice(1).map(Number);
  if (parts.length !== 4 || parts.some((p) => p > 255)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(s)}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** The netmask of a prefix length (24 → 255.255.255.0). */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}
