/**
 * What the stack counts. The protocol counters carry the names Linux prints in /proc/net/snmp and
 * /proc/net/netstat (Ip, IpExt, Icmp, Udp, Tcp, TcpExt), which follow the MIBs of RFC 4293,
 * RFC 4022 and RFC 4113: `Ip.InReceives` counts every datagram received, those in error
 * included. The `Work` group is not Linux's: it is what the stack did that a caller charges
 * cycles for (the stack itself spends none), such as bytes copied to and from the application.
 */
export class NetCounters {
  readonly Ip = {
    InReceives: 0, InHdrErrors: 0, InAddrErrors: 0, InUnknownProtos: 0, InDiscards: 0,
    InDelivers: 0, OutRequests: 0, OutDiscards: 0, OutNoRoutes: 0, InTruncatedPkts: 0,
    ReasmFails: 0,
  };
  readonly IpExt = { InCsumErrors: 0, InBcastPkts: 0, OutBcastPkts: 0 };
  readonly Icmp = {
    InMsgs: 0, InErrors: 0, InCsumErrors: 0, InDestUnreachs: 0, InEchos: 0, InEchoReps: 0,
    OutMsgs: 0, OutDestUnreachs: 0, OutEchos: 0, OutEchoReps: 0,
  };
  readonly Udp = {
    InDatagrams: 0, NoPorts: 0, InErrors: 0, OutDatagrams: 0, RcvbufErrors: 0, InCsumErrors: 0,
  };
  readonly Tcp = {
    ActiveOpens: 0, PassiveOpens: 0, AttemptFails: 0, EstabResets: 0, CurrEstab: 0, InSegs: 0,
    OutSegs: 0, RetransSegs: 0, InErrs: 0, OutRsts: 0, InCsumErrors: 0,
  };
  readonly TcpExt = {
    ListenOverflows: 0, ListenDrops: 0, TCPReqQFullDrop: 0, DelayedACKs: 0, TCPFastRetrans: 0,
    TCPTimeouts: 0, TCPSynRetrans: 0, TCPLossProbes: 0, TCPAbortOnTimeout: 0, TCPAbortOnClose: 0,
    TCPAbortOnData: 0, TCPAbortOnLinger: 0, TW: 0, TWRecycled: 0, TCPChallengeACK: 0,
    TCPOFOQueue: 0, TCPOFODrop: 0, TCPWinProbe: 0, TCPPartialUndo: 0, TCPDSACKRecv: 0,
    TCPPureAcks: 0, TCPHPAcks: 0, OutOfWindowIcmps: 0, TCPACKSkippedSeq: 0,
  };
  /** Neighbour (ARP) table events, as `ip -s ntable` names them where it has a name. */
  readonly Arp = {
    InRequests: 0, InReplies: 0, OutRequests: 0, OutReplies: 0, InErrors: 0, Ignored: 0,
    ResolveFailed: 0, UnresolvedDiscards: 0, TableFull: 0,
  };
  /** The link layer: frames in and out, as `ip -s link` counts them. */
  readonly Link = {
    RxFrames: 0, RxBytes: 0, RxDropped: 0, RxErrors: 0, TxFrames: 0, TxBytes: 0, TxQueued: 0,
    TxDropped: 0,
  };
  /** Work a caller charges for: copies, wake-ups, timers, allocations of frames. */
  readonly Work = {
    BytesCopiedFromUser: 0, BytesCopiedToUser: 0, FramesBuilt: 0, AcksSent: 0, Wakeups: 0,
    TimersFired: 0, TimersArmed: 0, SocketsCreated: 0,
  };

  /** Every group and counter as plain data (for JSON, `--stats`). */
  snapshot(): Record<string, Record<string, number>> {
    return {
      Ip: { ...this.Ip }, IpExt: { ...this.IpExt }, Icmp: { ...this.Icmp }, Udp: { ...this.Udp },
      Tcp: { ...this.Tcp }, TcpExt: { ...this.TcpExt }, Arp: { ...this.Arp }, Link: { ...this.Link },
      Work: { ...this.Work },
    };
  }
}
