/**
 * The Internet checksum (RFC 1071): the one's complement of the one's complement sum of the data
 * taken as big-endian 16-bit words, an odd last byte padded with zero. IPv4 headers, ICMP, UDP and
 * TCP all use it; UDP and TCP add a pseudo-header (RFC 768, RFC 9293 §3.1) to the sum.
 *
 * Sums are kept unfolded in a JS number while they are being added up: 32 KiB words of at most
 * 0xffff stay far below 2^53, so folding once at the end (RFC 1071 §2(C), "deferred carries")
 * gives the same result as folding at every step.
 */

/** Adds `len` bytes of `buf` from `off` to `sum` (not folded, not complemented). */
export function onesComplementAdd(sum: number, buf: Uint8Array, off: number, len: number): number {
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds the carries of an unfolded sum into 16 bits (RFC 1071 §4.1's `while (sum>>16)`). */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum to put in a header: the complement of the folded sum. */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~foldSum(onesComplementAdd(initial, buf, off, len)) & 0xffff;
}

/**
 * The TCP/UDP pseudo-header's contribution: source and destination addresses, the protocol and
 * the L4 length (header plus data).
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, l4Length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + l4Length;
}
