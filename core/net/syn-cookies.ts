import type { IsnGenerator } from './isn-generator.js';
import { NS_PER_SECOND } from './net-timers.js';

/** Linux's COOKIEBITS, MAX_SYNCOOKIE_AGE and msstab (net/ipv4/syncookies.c). */
const COOKIEBITS = 24;
const COOKIEMASK = (1 << COOKIEBITS) - 1;
const MAX_SYNCOOKIE_AGE = 2;
export const SYNCOOKIE_MSS = [536, 1300, 1440, 1460] as const;
/** tcp_cookie_time counts minutes. */
const COOKIE_PERIOD_NS = 60 * NS_PER_SECOND;

/**
 * SYN cookies (net/ipv4/syncookies.c): when the SYN queue is full, the listener answers from no
 * state at all. The ISN of its SYN,ACK encodes a keyed hash of the 4-tuple and the client's ISN,
 * the minute it was made in (top 8 bits) and the index of the client's MSS in a 4-entry table;
 * the handshake's ACK brings it back as SEG.ACK − 1 and the connection is rebuilt from it.
 * Without timestamps there is nowhere to keep the window scale, so such a connection has none,
 * as on Linux.
 */
export class SynCookies {
  constructor(private readonly hash: IsnGenerator) {}

  /** The cookie ISN for a SYN with sequence number `sseq` asking for `mss`. */
  make(saddr: number, daddr: number, sport: number, dport: number, sseq: number, mss: number, nowNs: number): number {
    let index = SYNCOOKIE_MSS.length - 1;
    while (index > 0 && SYNCOOKIE_MSS[index]! > mss) index--;
    const count = Math.floor(nowNs / COOKIE_PERIOD_NS);
    const ports = ((sport << 16) | dport) >>> 0;
    return (this.hash.hash4(saddr, daddr, ports, 0) + sseq + ((count << COOKIEBITS) >>> 0) +
      ((this.hash.hash4(saddr, daddr, ports, (count | 0x8000_0000) >>> 0) + index) & COOKIEMASK)) >>> 0;
  }

  /** The MSS a returning cookie carries, or 0 when it is forged or older than two minutes. */
  check(saddr: number, daddr: number, sport: number, dport: number, sseq: number, cookie: number, nowNs: number): number {
    const count = Math.floor(nowNs / COOKIE_PERIOD_NS);
    const ports = ((sport << 16) | dport) >>> 0;
    const c = (cookie - this.hash.hash4(saddr, daddr, ports, 0) - sseq) >>> 0;
    const diff = (count - (c >>> COOKIEBITS)) & 0xff;
    if (diff >= MAX_SYNCOOKIE_AGE) return 0;
    const index = (c - this.hash.hash4(saddr, daddr, ports, ((count - diff) | 0x8000_0000) >>> 0)) & COOKIEMASK;
    return index < SYNCOOKIE_MSS.length ? SYNCOOKIE_MSS[index]! : 0;
  }
}
