import type { SockLayout } from '../../core/net/connection-memory.js';

/**
 * IX's per-flow TCP state: the lwIP-derived `struct tcp_pcb` of its dataplane (inc/lwip/lwip/tcp.h
 * in IX's tree), which lives in a per-core memory pool and holds everything TCP keeps for a flow —
 * IX has no socket, file or epoll item beside it. Laid out for x86-64 from its fields, in order:
 *
 * - line 0 (bytes 0–63): IP_PCB (IPv4 addresses, options, TOS, TTL), the `hlist_node` of the
 *   flow group's PCB hash, and `unified_timer` (IX's one timer per PCB);
 * - line 1 (64–127): the three timer deadlines (delayed ACK, retransmission, persist),
 *   `callback_arg` (the application's cookie), the accept callback, the delayed-ACK counter,
 *   `state`, the ports, `flags`, the poll timer and `tmr`;
 * - line 2 (128–191): the receiver's `rcv_nxt`, windows and announced edge, `mss`, the RTT
 *   estimator, `rto`, `nrtx`, `dupacks`, `lastack`, `cwnd`, `ssthresh`, `snd_nxt`, `snd_wl1/2`,
 *   `snd_lbb`, `snd_wnd`;
 * - line 3 (192–255): `acked`, `snd_buf`, `snd_queuelen`, the `unsent`, `unacked` and `ooseq`
 *   segment lists, `refused_data`, and the `sent` and `recv` callbacks;
 * - line 4 (256–303): the other callbacks, the timestamps, keepalive and persist counters, the
 *   window scales.
 *
 * About 300 bytes, five lines once the pool aligns objects to the line. Which lines each path
 * uses is this model's reading of lwIP's tcp_in.c / tcp_out.c (as for Linux's tcp_sock in
 * core/net/connection-memory.ts), not a measurement, and nothing is fitted to a figure: tcp_input
 * finds the PCB by the hash link, the addresses and the ports (lines 0–1), tcp_process and
 * tcp_receive read and write the state, flags, sequence, window and RTT fields and the unacked
 * list, and call `recv` or `sent` (lines 0–3; the delayed-ACK timer is in lines 0–1); tcp_write
 * (sendv) fills `snd_buf`, `snd_lbb` and `unsent` (lines 2–3); tcp_recved (recv_done) reopens the
 * window (lines 1–2); tcp_output reads the addresses, ports, flags, `snd_nxt`, the windows and
 * `unsent`, and arms the retransmission deadline (lines 0–3). Line 4 is for the rarer paths
 * (keepalive, persist, errors).
 */
export const LWIP_TCP_PCB: SockLayout = {
  name: "IX's struct tcp_pcb (lwIP)",
  bytes: 304,
  lines: {
    lookup: Uint8Array.of(0, 1),
    receiveData: Uint8Array.of(0, 1, 2, 3),
    receiveAck: Uint8Array.of(0, 1, 2, 3),
    recvmsg: Uint8Array.of(1, 2),
    sendmsg: Uint8Array.of(2, 3),
    transmit: Uint8Array.of(0, 1, 2, 3),
    poll: Uint8Array.of(1),
  },
};
