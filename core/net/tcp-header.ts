import { be16, be32 } from './ipv4.js';

/** The TCP header (RFC 9293 §3.1) and the options this stack speaks. */
export const TCP_HLEN = 20;
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
/** RFC 7323 §2.3: a shift above 14 is taken as 14. */
export const TCP_MAX_WSCALE = 14;
/** RFC 9293 §3.7.1: the MSS assumed when a SYN carries none. */
export const TCP_DEFAULT_MSS = 536;

/**
 * One received segment, parsed in place: offsets into the frame, header fields as numbers. The
 * stack reuses one instance for every segment, so parsing allocates nothing.
 */
export class TcpSegment {
  frame: Uint8Array = new Uint8Array(0);
  src = 0;
  dst = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  /** Offset and length of the payload in `frame`. */
  dataOff = 0;
  dataLen = 0;
  /** Options of a SYN (-1: absent). */
  mss = -1;
  wscale = -1;

  /** Sequence space the segment occupies: data, plus one each for SYN and FIN. */
  get segLen(): number {
    return this.dataLen + (this.flags & TH_SYN ? 1 : 0) + (this.flags & TH_FIN ? 1 : 0);
  }

  /**
   * Fills the fields from the TCP header at `off`, `len` bytes long (header and data). Returns
   * false for a header that does not fit (data offset under 5 words or past the end).
   */
  parse(frame: Uint8Array, off: number, len: number, src: number, dst: number): boolean {
    if (len < TCP_HLEN) return false;
    const doff = (frame[off + 12]! >>> 4) * 4;
    if (doff < TCP_HLEN || doff > len) return false;
    this.frame = frame;
    this.src = src;
    this.dst = dst;
    this.srcPort = be16(frame, off);
    this.dstPort = be16(frame, off + 2);
    this.seq = be32(frame, off + 4);
    this.ack = be32(frame, off + 8);
    this.flags = frame[off + 13]! & 0x3f;
    this.window = be16(frame, off + 14);
    this.dataOff = off + doff;
    this.dataLen = len - doff;
    this.mss = -1;
    this.wscale = -1;
    if (doff > TCP_HLEN && (this.flags & TH_SYN) !== 0) this.parseOptions(frame, off + TCP_HLEN, off + doff);
    return true;
  }

  /** tcp_parse_options: unknown kinds are skipped by their length; a bad length ends the list. */
  private parseOptions(b: Uint8Array, i: number, end: number): void {
    while (i < end) {
      const kind = b[i]!;
      if (kind === TCPOPT_EOL) return;
      if (kind === TCPOPT_NOP) {
        i++;
        continue;
      }
      if (i + 1 >= end) return;
      const olen = b[i + 1]!;
      if (olen < 2 || i + olen > end) return;
      if (kind === TCPOPT_MSS && olen === 4) this.mss = be16(b, i + 2);
      else if (kind === TCPOPT_WINDOW && olen === 3) this.wscale = Math.min(b[i + 2]!, TCP_MAX_WSCALE);
      i += olen;
    }
  }
}
