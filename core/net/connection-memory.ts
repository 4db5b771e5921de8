/**
 * Where a host keeps its per-connection kernel objects, and what touching them costs: the stack
 * calls it when a path reads or writes a connection's state, so that a last-level cache proxy can
 * charge the misses (docs/network.md, "The last-level cache proxy"). A stack without one (a
 * modelled client host) spends nothing, as before.
 */
export const ConnectionMemory = Symbol('ConnectionMemory');

export interface ConnectionMemory {
  /** Memory for one object of `bytes` (a slab object); returns its address, or -1 when there is none (the object then costs nothing). */
  allocate(bytes: number): number;
  /** The object at `addr` is freed; a later `allocate` of the same size may reuse it first (SLUB's LIFO free list). */
  free(addr: number, bytes: number): void;
  /** The path running now touches the cache lines `lines` (offsets in 64-byte lines) of the object at `addr`. */
  touchLines(addr: number, lines: Uint8Array): void;
  /** The path running now touches `bytes` at `addr` (a packet buffer, a descriptor). */
  touch(addr: number, bytes: number): void;
}

/**
 * A stack's per-connection control block as the cache sees it: its size, and the 64-byte lines
 * of it that each path of the shared TCP code uses. Linux's struct tcp_sock is the default; a
 * dataplane with its own TCP (IX's lwIP-derived PCB) gives its own.
 */
export interface SockLayout {
  readonly name: string;
  readonly bytes: number;
  readonly lines: {
    readonly lookup: Uint8Array;
    readonly receiveData: Uint8Array;
    readonly receiveAck: Uint8Array;
    readonly recvmsg: Uint8Array;
    readonly sendmsg: Uint8Array;
    readonly transmit: Uint8Array;
    readonly poll: Uint8Array;
  };
}

/** x86's cache line. */
export const CACHE_LINE = 64;

/**
 * struct tcp_sock of a Linux 3.x x86-64 kernel: about 1,984 bytes, the object size of the "TCP"
 * slab cache in /proc/slabinfo of kernels of that time (31 lines). The line sets below are which
 * parts of it each path uses, from the order of the fields (struct sock_common and struct sock
 * first, then inet_sock, inet_connection_sock with its timers and icsk_ack, then the tcp_sock
 * sequence, window, RTT and congestion fields). They are this model's reading of the code paths
 * named, not measurements, and nothing is fitted to a figure.
 */
export const TCP_SOCK_BYTES = 1984;
export const TcpSockLines = {
  /** __inet_lookup_established: sock_common's hash linkage, addresses, ports and state. */
  lookup: Uint8Array.of(0),
  /** tcp_v4_rcv → tcp_rcv_established with data: the socket lock and backlog, sk_receive_queue and rcvbuf accounting, icsk_ack, rcv_nxt/rcv_wnd/copied_seq, tcp_ack's snd_una/snd_wnd, the RTT and cwnd, sk_data_ready's wait queue pointer. */
  receiveData: Uint8Array.of(0, 1, 2, 3, 12, 18, 19, 20, 21, 24),
  /** A segment without data (an ACK): the lock, icsk_ack, tcp_ack's fields, RTT and cwnd. */
  receiveAck: Uint8Array.of(0, 2, 12, 20, 21, 24),
  /** tcp_recvmsg and tcp_cleanup_rbuf: the lock, the receive queue, copied_seq and rcv_wup, icsk_ack. */
  recvmsg: Uint8Array.of(2, 3, 12, 18, 19),
  /** tcp_sendmsg: the lock, sk_write_queue and sndbuf accounting, write_seq, the send MSS. */
  sendmsg: Uint8Array.of(2, 4, 5, 22, 23),
  /** tcp_transmit_skb → ip_queue_xmit: sk_dst_cache, inet_sock's addresses and TTL, snd_nxt, the window to advertise, the retransmission timer. */
  transmit: Uint8Array.of(0, 6, 9, 12, 18, 20, 21, 24),
  /** tcp_poll: state, the receive and write queues' lengths, sk_err, the shutdown bits. */
  poll: Uint8Array.of(0, 1, 3, 4),
} as const;

/** Linux's tcp_sock as a SockLayout (the stack's default). */
export const LINUX_TCP_SOCK: SockLayout = { name: 'struct tcp_sock', bytes: TCP_SOCK_BYTES, lines: TcpSockLines };
