import { describe, expect, it } from 'vitest';
import {
  EADDRINUSE, ECONNRESET, EINPROGRESS, EPIPE, POLLERR, POLLHUP, POLLIN, POLLRDHUP,
} from '../../core/linux/linux-abi.js';
import { L4_OFF } from '../../core/net/ipv4.js';
import { TH_RST } from '../../core/net/tcp-header.js';
import {
  TCP_CLOSE, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_LAST_ACK,
  TCP_SYN_RECV, TCP_TIME_WAIT,
} from '../../core/net/tcp-state.js';
import { TCP_TIMEWAIT_LEN_NS } from '../../core/net/tcp-socket.js';
import { connect, pattern, readAll } from './tcp-helpers.js';
import { B_ADDR, rebootB, stackPair } from './test-wire.js';

const MS = 1_000_000;

describe('TCP close, reset and queues', () => {
  it('orderly close: FIN_WAIT1 → FIN_WAIT2 → TIME_WAIT for 60 s on the closer, CLOSE_WAIT → LAST_ACK on the peer', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    const last = pattern(3000);
    client.send(last);
    client.close();
    expect(client.state).toBe(TCP_FIN_WAIT1);
    pair.clock.advance(10 * MS);
    expect(client.state).toBe(TCP_FIN_WAIT2);
    expect(conn.state).toBe(TCP_CLOSE_WAIT);
    expect(conn.poll() & (POLLIN | POLLRDHUP)).toBe(POLLIN | POLLRDHUP);
    expect(readAll(conn)).toEqual(last);
    expect(conn.recv(new Uint8Array(10))).toBe(0); // end of stream
    conn.close();
    expect(conn.state).toBe(TCP_LAST_ACK);
    const twAt = pair.clock.now() + MS; // the FIN arrives after one delay
    pair.clock.advance(10 * MS);
    expect(conn.state).toBe(TCP_CLOSE);
    expect(client.state).toBe(TCP_TIME_WAIT);
    expect(pair.a.counters.TcpExt.TW).toBe(1);
    pair.clock.runUntil(twAt + TCP_TIMEWAIT_LEN_NS - 1);
    expect(client.state).toBe(TCP_TIME_WAIT);
    pair.clock.runUntil(twAt + TCP_TIMEWAIT_LEN_NS);
    expect(client.state).toBe(TCP_CLOSE);
  });

  it('a retransmitted FIN in TIME_WAIT is acknowledged again and restarts the 60 s', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    client.close();
    pair.clock.advance(10 * MS);
    conn.close();
    // Lose the ACK of the peer's FIN: the peer retransmits its FIN after its RTO.
    let dropped = false;
    pair.wire.filter = (_f, from) => {
      if (from === 'a' && !dropped) return (dropped = true);
      return false;
    };
    pair.clock.advance(10 * MS);
    expect(client.state).toBe(TCP_TIME_WAIT);
    expect(conn.state).toBe(TCP_LAST_ACK);
    const acksBefore = pair.a.counters.Work.AcksSent;
    pair.clock.advance(1000 * MS);
    expect(conn.state).toBe(TCP_CLOSE);
    expect(pair.a.counters.Work.AcksSent).toBe(acksBefore + 1);
    expect(pair.b.counters.Tcp.RetransSegs).toBe(1);
  });

  it('simultaneous close: both sides pass through CLOSING and both end in TIME_WAIT', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    client.close();
    conn.close();
    expect(client.state).toBe(TCP_FIN_WAIT1);
    expect(conn.state).toBe(TCP_FIN_WAIT1);
    pair.clock.advance(1 * MS); // both FINs arrive before either ACK
    expect(client.state).toBe(TCP_CLOSING);
    expect(conn.state).toBe(TCP_CLOSING);
    pair.clock.advance(1 * MS);
    expect(client.state).toBe(TCP_TIME_WAIT);
    expect(conn.state).toBe(TCP_TIME_WAIT);
    pair.clock.advance(TCP_TIMEWAIT_LEN_NS);
    expect(client.state).toBe(TCP_CLOSE);
    expect(conn.state).toBe(TCP_CLOSE);
  });

  it('half close: shutdown(SHUT_WR) sends FIN, the other direction keeps flowing', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    expect(client.shutdown(1)).toBe(0);
    pair.clock.advance(10 * MS);
    expect(client.state).toBe(TCP_FIN_WAIT2);
    expect(client.send(new Uint8Array(1))).toBe(-EPIPE);
    expect(conn.recv(new Uint8Array(1))).toBe(0);
    const reply = pattern(40_000);
    let sent = 0;
    while (sent < reply.length) {
      const n = conn.send(reply.subarray(sent));
      if (n > 0) sent += n;
      pair.clock.advance(5 * MS);
    }
    pair.clock.advance(50 * MS);
    expect(readAll(client)).toEqual(reply);
    conn.close();
    pair.clock.advance(10 * MS);
    expect(client.state).toBe(TCP_TIME_WAIT);
  });

  it('an RST in an established connection (SO_LINGER 0 on the peer) is ECONNRESET, then EPIPE', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    let events = 0;
    client.onWake = (e) => (events = e);
    conn.abort();
    expect(conn.state).toBe(TCP_CLOSE);
    pair.clock.advance(10 * MS);
    expect(client.state).toBe(TCP_CLOSE);
    expect(events & (POLLERR | POLLHUP)).toBe(POLLERR | POLLHUP);
    expect(client.recv(new Uint8Array(4))).toBe(-ECONNRESET);
    expect(client.send(new Uint8Array(4))).toBe(-EPIPE);
    expect(pair.a.counters.Tcp.EstabResets).toBe(1);
    expect(pair.b.counters.TcpExt.TCPAbortOnLinger).toBe(1);
  });

  it('close() with unread data resets the connection (TCPAbortOnClose)', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    client.send(pattern(100));
    pair.clock.advance(10 * MS);
    conn.close();
    pair.clock.advance(10 * MS);
    expect(pair.b.counters.TcpExt.TCPAbortOnClose).toBe(1);
    expect(client.state).toBe(TCP_CLOSE);
    expect(client.takeError()).toBe(ECONNRESET);
  });

  it('RST checks of RFC 5961: an in-window RST off RCV.NXT earns a challenge ACK, not a reset', () => {
    const pair = stackPair();
    pair.wire.capture = true;
    const { client, conn } = connect(pair);
    // Forge an RST from b to a with sequence RCV.NXT + 100 (inside the window).
    const template = pair.wire.captured.find((c) => c.from === 'b' && c.frame.length >= L4_OFF + 20)!.frame;
    const forged = template.slice();
    forged[L4_OFF + 13] = TH_RST;
    const seq = (client.rcvNxt + 100) >>> 0;
    forged.set([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], L4_OFF + 4);
    forged.subarray(L4_OFF + 8, L4_OFF + 12).fill(0);
    reChecksum(forged);
    pair.a.receive(pair.wire.a, forged);
    expect(client.state).toBe(TCP_ESTABLISHED);
    expect(pair.a.counters.TcpExt.TCPChallengeACK).toBe(1);
    // At exactly RCV.NXT it is accepted.
    const exact = forged.slice();
    const s2 = client.rcvNxt;
    exact.set([s2 >>> 24, (s2 >>> 16) & 255, (s2 >>> 8) & 255, s2 & 255], L4_OFF + 4);
    reChecksum(exact);
    pair.a.receive(pair.wire.a, exact);
    expect(client.state).toBe(TCP_CLOSE);
    expect(client.takeError()).toBe(ECONNRESET);
    expect(conn.state).toBe(TCP_ESTABLISHED);
  });

  it('half-open: after the peer reboots, data draws an RST and the survivor sees ECONNRESET', () => {
    const pair = stackPair();
    const { client } = connect(pair);
    rebootB(pair);
    expect(client.send(pattern(10))).toBe(10);
    pair.clock.advance(100 * MS);
    expect(client.state).toBe(TCP_CLOSE);
    expect(client.takeError()).toBe(ECONNRESET);
    expect(pair.b.counters.Tcp.OutRsts).toBe(1);
  });

  it('half-open: a rebooted peer reconnecting on the same ports gets a challenge ACK, resets the old connection, then succeeds', () => {
    const pair = stackPair();
    const server = pair.a.tcpSocket();
    server.bind(0, 80);
    server.listen(4);
    const old = pair.b.tcpSocket();
    old.bind(0, 5555);
    old.connect(0x0a000001, 80);
    pair.clock.advance(20 * MS);
    const first = server.accept();
    if (typeof first === 'number') throw new Error('no connection');
    expect(first.state).toBe(TCP_ESTABLISHED);
    const b = rebootB(pair);
    const again = b.tcpSocket();
    again.bind(0, 5555);
    expect(again.connect(0x0a000001, 80)).toBe(-EINPROGRESS);
    pair.clock.advance(10 * MS);
    expect(pair.a.counters.TcpExt.TCPChallengeACK).toBe(1);
    expect(first.state).toBe(TCP_CLOSE);
    expect(first.takeError()).toBe(ECONNRESET);
    pair.clock.advance(3000 * MS); // the SYN is retransmitted after 1 s and now finds the listener
    expect(again.state).toBe(TCP_ESTABLISHED);
    expect(typeof server.accept()).toBe('object');
  });

  it('accept queue: backlog N holds N + 1 connections; a further SYN is dropped and counted', () => {
    const pair = stackPair();
    const server = pair.b.tcpSocket();
    server.bind(0, 80);
    server.listen(1);
    const clients = [0, 1, 2].map(() => pair.a.tcpSocket());
    for (const c of clients) {
      c.connect(B_ADDR, 80);
      pair.clock.advance(20 * MS);
    }
    expect(server.acceptQueue.length).toBe(2);
    expect(clients[2]!.state).not.toBe(TCP_ESTABLISHED);
    expect(pair.b.counters.TcpExt.ListenOverflows).toBe(1);
    expect(pair.b.counters.TcpExt.ListenDrops).toBe(1);
    // Accepting makes room; the third client's SYN, retransmitted after 1 s, then gets through.
    server.accept();
    pair.clock.advance(1000 * MS);
    expect(clients[2]!.state).toBe(TCP_ESTABLISHED);
    expect(server.acceptQueue.length).toBe(2);
    expect(pair.a.counters.TcpExt.TCPSynRetrans).toBe(1);
  });

  it('SYN queue: at most backlog half-open connections; the rest are dropped (tcp_syncookies = 0)', () => {
    const pair = stackPair();
    const server = pair.b.tcpSocket();
    server.bind(0, 80);
    server.listen(1);
    const clients = [0, 1, 2].map(() => pair.a.tcpSocket());
    for (const c of clients) c.connect(B_ADDR, 80); // the three SYNs leave together after ARP
    pair.clock.advance(50 * MS);
    expect(server.acceptQueue.length).toBe(1);
    expect(pair.b.counters.TcpExt.TCPReqQFullDrop).toBe(2);
    pair.clock.advance(5000 * MS);
    expect(server.acceptQueue.length).toBe(2);
  });

  it('a full accept queue ignores the final ACK; the SYN,ACK is retransmitted until there is room', () => {
    const pair = stackPair();
    const server = pair.b.tcpSocket();
    server.bind(0, 80);
    server.listen(0);
    const c1 = pair.a.tcpSocket();
    c1.connect(B_ADDR, 80);
    pair.clock.advance(50 * MS);
    expect(server.acceptQueue.length).toBe(1);
    // A second SYN: the accept queue is not over backlog 0 + 1 until it holds 1 … it does; dropped.
    const c2 = pair.a.tcpSocket();
    c2.connect(B_ADDR, 80);
    pair.clock.advance(50 * MS);
    expect(server.synQueue.length).toBe(0);
    expect(c2.state).not.toBe(TCP_ESTABLISHED);
    server.accept();
    pair.clock.advance(1500 * MS);
    expect(c2.state).toBe(TCP_ESTABLISHED);
    const child = server.acceptQueue[0]!;
    expect(child.state).toBe(TCP_ESTABLISHED);
    expect(server.synQueue.filter((s) => s.state === TCP_SYN_RECV).length).toBe(0);
  });

  it('SO_REUSEADDR: a restarted server binds its port while connections are in TIME_WAIT only if both set it', () => {
    const pair = stackPair();
    const run = (reuse: boolean): number => {
      const server = pair.b.tcpSocket();
      server.reuseAddr = reuse;
      expect(server.bind(0, 8080)).toBe(0);
      server.listen(4);
      const client = pair.a.tcpSocket();
      client.connect(B_ADDR, 8080);
      pair.clock.advance(20 * MS);
      const conn = server.accept();
      if (typeof conn === 'number') throw new Error('no connection');
      conn.close(); // the server closes first: its side goes to TIME_WAIT
      pair.clock.advance(10 * MS);
      client.close();
      pair.clock.advance(10 * MS);
      expect(conn.state).toBe(TCP_TIME_WAIT);
      server.close();
      const restarted = pair.b.tcpSocket();
      restarted.reuseAddr = reuse;
      const r = restarted.bind(0, 8080);
      restarted.close();
      pair.clock.advance(TCP_TIMEWAIT_LEN_NS);
      return r;
    };
    expect(run(false)).toBe(-EADDRINUSE);
    expect(run(true)).toBe(0);
    // Two listeners on one port are refused even with SO_REUSEADDR.
    const l1 = pair.b.tcpSocket();
    l1.reuseAddr = true;
    l1.bind(0, 9090);
    l1.listen(1);
    const l2 = pair.b.tcpSocket();
    l2.reuseAddr = true;
    expect(l2.bind(0, 9090)).toBe(-EADDRINUSE);
  });

  it('close of a listener resets connections nobody accepted', () => {
    const pair = stackPair();
    const server = pair.b.tcpSocket();
    server.bind(0, 80);
    server.listen(4);
    const c = pair.a.tcpSocket();
    c.connect(B_ADDR, 80);
    pair.clock.advance(20 * MS);
    expect(c.state).toBe(TCP_ESTABLISHED);
    server.close();
    pair.clock.advance(20 * MS);
    expect(c.state).toBe(TCP_CLOSE);
    expect(c.takeError()).toBe(ECONNRESET);
  });

  it('an orphaned connection in FIN_WAIT2 is dropped after tcp_fin_timeout (60 s)', () => {
    const pair = stackPair();
    const { client } = connect(pair);
    client.close();
    pair.clock.advance(10 * MS);
    expect(client.state).toBe(TCP_FIN_WAIT2);
    pair.clock.advance(60_000 * MS);
    expect(client.state).toBe(TCP_CLOSE);
  });
});

/** Recomputes the TCP checksum of a frame after a test edited it. */
function reChecksum(f: Uint8Array): void {
  const len = ((f[16]! << 8) | f[17]!) - 20;
  f[L4_OFF + 16] = 0;
  f[L4_OFF + 17] = 0;
  let sum = 6 + len;
  for (let i = 26; i < 34; i += 2) sum += (f[i]! << 8) | f[i + 1]!;
  for (let i = 0; i < len; i += 2) sum += (f[L4_OFF + i]! << 8) | (i + 1 < len ? f[L4_OFF + i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  f[L4_OFF + 16] = c >>> 8;
  f[L4_OFF + 17] = c & 255;
}
