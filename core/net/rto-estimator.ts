import { NS_PER_MS, NS_PER_SECOND } from './net-timers.js';

/** RFC 6298 §2.1: the RTO before any RTT sample (Linux TCP_TIMEOUT_INIT, 1 s). */
export const TCP_TIMEOUT_INIT_NS = NS_PER_SECOND;
/** Linux TCP_RTO_MIN (HZ/5, 200 ms): RFC 6298 asks for 1 s, Linux and most stacks use less. */
export const TCP_RTO_MIN_NS = 200 * NS_PER_MS;
/** Linux TCP_RTO_MAX (120 s), RFC 6298 §2.5's upper bound of at least 60 s. */
export const TCP_RTO_MAX_NS = 120 * NS_PER_SECOND;
/** Clock granularity G of RFC 6298 (Linux measures RTT in microseconds; its timers tick in jiffies, 1 ms at HZ=1000). */
export const CLOCK_GRANULARITY_NS = NS_PER_MS;

/**
 * The retransmission timeout of RFC 6298: SRTT and RTTVAR from RTT samples (α = 1/8, β = 1/4,
 * K = 4), RTO = SRTT + max(G, K·RTTVAR), doubled on each expiry (§5.5) and kept doubled until a
 * new sample arrives. The variance term is at least TCP_RTO_MIN, as Linux's tcp_set_rto floors
 * rttvar, so on a LAN the RTO is about 200 ms plus the RTT.
 */
export class RtoEstimator {
  srtt = 0;
  rttvar = 0;
  hasSample = false;
  /** The current timeout, with back-off applied. */
  rto = TCP_TIMEOUT_INIT_NS;
  /** Consecutive expiries (icsk_backoff). */
  backoff = 0;

  /** One RTT measurement R, in ns (never of a retransmitted segment: Karn's algorithm). */
  sample(r: number): void {
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.backoff = 0;
    this.rto = this.base();
  }

  /** §5.5: the timer expired; back off. */
  expired(): void {
    this.backoff++;
    this.rto = Math.min(this.rto * 2, TCP_RTO_MAX_NS);
  }

  /** The un-backed-off timeout. */
  base(): number {
    if (!this.hasSample) return TCP_TIMEOUT_INIT_NS;
    const v = Math.max(CLOCK_GRANULARITY_NS, 4 * this.rttvar, TCP_RTO_MIN_NS);
    return Math.round(Math.min(this.srtt + v, TCP_RTO_MAX_NS));
  }
}
