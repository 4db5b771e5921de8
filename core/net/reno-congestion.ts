/** RFC 6928 and Linux TCP_INIT_CWND: the initial window is 10 segments. */
export const TCP_INIT_CWND = 10;

/**
 * Congestion control of RFC 5681 (Reno) with NewReno's recovery (RFC 6582), in bytes: slow start
 * below ssthresh (cwnd grows by at most one SMSS per ACK, §3.1), congestion avoidance above it
 * (about one SMSS per RTT, eq. 3), a halving on three duplicate ACKs (eq. 4), one segment after a
 * retransmission timeout (§3.1). Linux's default is CUBIC; Reno is what the RFCs define and what
 * Linux runs with net.ipv4.tcp_congestion_control=reno.
 */
export class RenoCongestion {
  cwnd: number;
  ssthresh = 0x7fff_ffff;
  /** In fast recovery until `recover` is acknowledged (RFC 6582). */
  inRecovery = false;
  recover = 0;
  dupAcks = 0;

  constructor(public mss: number) {
    this.cwnd = TCP_INIT_CWND * mss;
  }

  /** New data acknowledged outside recovery. */
  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, this.mss);
    else this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
  }

  /** Third duplicate ACK: ssthresh = max(FlightSize / 2, 2·SMSS), cwnd = ssthresh + 3·SMSS. */
  enterRecovery(flight: number, recover: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.ssthresh + 3 * this.mss;
    this.inRecovery = true;
    this.recover = recover;
  }

  /** A further duplicate ACK in recovery: one more segment has left the network. */
  inflate(): void {
    this.cwnd += this.mss;
  }

  /** RFC 6582 §3.2 step 3: a partial ACK deflates by what it acknowledged, adds back one SMSS. */
  partialAck(acked: number): void {
    this.cwnd = Math.max(this.cwnd - acked + (acked >= this.mss ? this.mss : 0), this.mss);
  }

  /** RFC 6582 §3.2 step 3: a full ACK ends recovery with cwnd = min(ssthresh, FlightSize + SMSS). */
  exitRecovery(flight: number): void {
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, 0) + this.mss);
    this.inRecovery = false;
    this.dupAcks = 0;
  }

  /** The retransmission timer expired: ssthresh = max(FlightSize / 2, 2·SMSS), cwnd = 1 SMSS. */
  onTimeout(flight: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.dupAcks = 0;
  }
}
