import { describe, expect, it } from 'vitest';
import { ETIMEDOUT } from '../../core/linux/linux-abi.js';
import { L4_OFF, be16, be32 } from '../../core/net/ipv4.js';
import { TH_SYN } from '../../core/net/tcp-header.js';
import { TCP_CLOSE, TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { TCP_ATO_MIN_NS } from '../../core/net/tcp-socket.js';
import { connect, pattern, readAll, transfer } from './tcp-helpers.js';
import { B_ADDR, type CapturedFrame, stackPair } from './test-wire.js';

const MS = 1_000_000;

function isTcp(f: Uint8Array): boolean {
  return be16(f, 12) === 0x0800 && f[23] === 6;
}

function payloadLength(f: Uint8Array): number {
  return be16(f, 16) - 20 - (f[L4_OFF + 12]! >>> 4) * 4;
}

function dataSegments(captured: CapturedFrame[], from: 'a' | 'b'): CapturedFrame[] {
  return captured.filter((c) => c.from === from && isTcp(c.frame) && payloadLength(c.frame) > 0);
}

describe('TCP under loss', () => {
  it('delivers 1 MB byte for byte through 1 % loss, reordering and duplication', () => {
    const pair = stackPair({ delayNs: 500_000, loss: 0.01, reorder: 0.02, reorderDelayNs: 700_000, duplicate: 0.005, seed: 42 });
    const { client, conn } = connect(pair);
    const data = pattern(1 << 20);
    const got = transfer(pair, client, conn, data);
    expect(got.length).toBe(data.length);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(data))).toBe(0);
    const a = pair.a.counters;
    expect(a.Tcp.RetransSegs).toBeGreaterThan(0);
    expect(a.TcpExt.TCPFastRetrans).toBeGreaterThan(0);
    expect(pair.b.counters.TcpExt.TCPOFOQueue).toBeGreaterThan(0);
    expect(pair.wire.dropped).toBeGreaterThan(0);
  });

  it('the same seed gives the same run: identical counters and finishing time', () => {
    const run = (): string => {
      const pair = stackPair({ delayNs: 200_000, loss: 0.02, reorder: 0.05, seed: 9 });
      const { client, conn } = connect(pair);
      transfer(pair, client, conn, pattern(200_000));
      return JSON.stringify([pair.clock.now(), pair.a.counters.snapshot(), pair.b.counters.snapshot()]);
    };
    expect(run()).toBe(run());
  });

  it('retransmits on RTO, doubling it each time (RFC 6298 §5.5), and gives up with ETIMEDOUT after tcp_retries2', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    const { client } = connect(pair);
    const rto = client.rto.rto;
    expect(rto).toBe(client.rto.base());
    pair.wire.capture = true;
    // Every TCP segment from a is lost from now on (ARP still works, as a dead route would not).
    pair.wire.filter = (f, from) => from === 'a' && isTcp(f);
    client.send(pattern(100));
    pair.clock.runWhile(() => client.state !== TCP_CLOSE, 1_000_000);
    const times = dataSegments(pair.wire.captured, 'a').map((c) => c.atNs);
    expect(times.length).toBe(16); // the original and tcp_retries2 = 15 retransmissions
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const expected = gaps.map((_, i) => Math.min(rto * 2 ** i, 120_000 * MS));
    expect(gaps).toEqual(expected);
    expect(client.takeError()).toBe(ETIMEDOUT);
    expect(pair.a.counters.TcpExt.TCPAbortOnTimeout).toBe(1);
    expect(pair.a.counters.TcpExt.TCPTimeouts).toBe(15);
  });

  it("Karn's algorithm: the ACK of a retransmitted segment gives no RTT sample, and the backed-off RTO stays", () => {
    const pair = stackPair({ delayNs: 1 * MS });
    const { client, conn } = connect(pair);
    const srtt = client.rto.srtt;
    const base = client.rto.rto;
    // Lose the first transmission only; the retransmission is acknowledged after a slow path.
    let drops = 1;
    pair.wire.filter = (f, from) => from === 'a' && isTcp(f) && payloadLength(f) > 0 && drops-- > 0;
    client.send(pattern(100));
    pair.clock.advance(base + 100 * MS); // the retransmission, and b's delayed ACK of it
    expect(readAll(conn).length).toBe(100);
    expect(client.unacknowledged()).toBe(0);
    expect(client.rto.srtt).toBe(srtt); // no sample from the ambiguous ACK
    expect(client.rto.rto).toBe(2 * base); // still backed off (RFC 6298 §5.7)
    // The next segment is sent once and timed: its sample ends the back-off.
    client.send(pattern(100));
    pair.clock.advance(100 * MS);
    expect(client.rto.rto).toBe(client.rto.base());
    expect(client.rto.srtt).not.toBe(srtt);
  });

  it('three duplicate ACKs trigger a fast retransmit before the RTO (RFC 5681 §3.2)', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    const { client, conn } = connect(pair);
    pair.wire.capture = true;
    let seen = 0;
    pair.wire.filter = (f, from) => from === 'a' && isTcp(f) && payloadLength(f) > 0 && ++seen === 2;
    const data = pattern(8 * 1460);
    const got = transfer(pair, client, conn, data);
    expect(got).toEqual(data);
    const c = pair.a.counters;
    expect(c.TcpExt.TCPFastRetrans).toBe(1);
    expect(c.TcpExt.TCPTimeouts).toBe(0);
    expect(c.Tcp.RetransSegs).toBe(1);
    const segs = dataSegments(pair.wire.captured, 'a');
    const lostSeq = be32(segs[1]!.frame, L4_OFF + 4);
    const resent = segs.filter((s) => be32(s.frame, L4_OFF + 4) === lostSeq);
    expect(resent.length).toBe(2);
    // Retransmitted about one RTT after the loss, long before the 200 ms RTO.
    expect(resent[1]!.atNs - resent[0]!.atNs).toBeLessThan(5 * MS);
    // Three duplicate ACKs from b came before it.
    const dupAcks = pair.wire.captured.filter((x) => x.from === 'b' && isTcp(x.frame) && be32(x.frame, L4_OFF + 8) === lostSeq &&
      x.atNs < resent[1]!.atNs);
    expect(dupAcks.length).toBeGreaterThanOrEqual(3);
    expect(pair.b.counters.TcpExt.TCPOFOQueue).toBeGreaterThan(0);
  });

  it('a SYN is retried tcp_syn_retries = 6 times at 1, 2, 4 … s, then connect fails with ETIMEDOUT', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.wire.capture = true;
    // b answers ARP but not TCP: its SYN,ACKs are lost.
    pair.wire.filter = (f, from) => from === 'b' && isTcp(f);
    const c = pair.a.tcpSocket();
    c.connect(B_ADDR, 80);
    const start = pair.clock.now();
    pair.clock.runWhile(() => c.state !== TCP_CLOSE);
    const syns = pair.wire.captured.filter((x) => x.from === 'a' && isTcp(x.frame) && (x.frame[L4_OFF + 13]! & TH_SYN) !== 0);
    // The first SYN waits 2 ms for ARP; the timer runs from connect().
    expect(syns.map((s) => (s.atNs - start) / 1e9)).toEqual([0.002, 1, 3, 7, 15, 31, 63]);
    expect(pair.clock.now() - start).toBe(127e9);
    expect(c.takeError()).toBe(ETIMEDOUT);
  });
});

describe('TCP acknowledgements and windows', () => {
  it('delays the ACK of a lone segment by 40 ms (TCP_ATO_MIN), and ACKs every second full segment at once', () => {
    const pair = stackPair({ delayNs: 100_000 });
    const { client, conn } = connect(pair);
    pair.wire.capture = true;
    const t0 = pair.clock.now();
    client.send(pattern(100));
    pair.clock.advance(100 * MS);
    const acks = pair.wire.captured.filter((x) => x.from === 'b' && isTcp(x.frame) && payloadLength(x.frame) === 0);
    expect(acks.length).toBe(1);
    expect(acks[0]!.atNs - (t0 + 100_000)).toBe(TCP_ATO_MIN_NS);
    expect(pair.b.counters.TcpExt.DelayedACKs).toBe(1);
    readAll(conn);
    // Two full segments: the second is acknowledged on arrival.
    pair.wire.captured.length = 0;
    client.noDelay = true;
    const t1 = pair.clock.now();
    client.send(pattern(2 * client.mss));
    pair.clock.advance(100 * MS);
    const acks2 = pair.wire.captured.filter((x) => x.from === 'b' && isTcp(x.frame) && payloadLength(x.frame) === 0);
    expect(acks2.length).toBe(1);
    expect(acks2[0]!.atNs).toBe(t1 + 100_000);
    expect(pair.b.counters.TcpExt.DelayedACKs).toBe(1);
  });

  it('never delays an ACK past 200 ms (TCP_DELACK_MAX) however slow the path', () => {
    const pair = stackPair({ delayNs: 400 * MS });
    const { client, conn } = connect(pair);
    pair.wire.capture = true;
    for (let i = 0; i < 4; i++) {
      client.send(pattern(10));
      pair.clock.advance(1000 * MS);
      readAll(conn);
    }
    const arrivals = pair.wire.captured.filter((x) => x.from === 'a' && isTcp(x.frame) && payloadLength(x.frame) > 0)
      .map((x) => x.atNs + 400 * MS);
    const acks = pair.wire.captured.filter((x) => x.from === 'b' && isTcp(x.frame) && payloadLength(x.frame) === 0);
    expect(acks.length).toBe(arrivals.length);
    const delays = acks.map((x, i) => x.atNs - arrivals[i]!);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(TCP_ATO_MIN_NS);
      expect(d).toBeLessThanOrEqual(200 * MS);
    }
    expect(delays.at(-1)).toBe(200 * MS); // the timeout grew (tcp_delack_timer) up to the cap
  });

  it('a receiver that stops reading closes the window; the sender probes with backing-off persist timer and resumes', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    const server = pair.b.tcpSocket();
    server.setReceiveBuffer(8192);
    server.bind(0, 80);
    server.listen(1);
    const client = pair.a.tcpSocket();
    client.connect(B_ADDR, 80);
    pair.clock.advance(20 * MS);
    const conn = server.accept();
    if (typeof conn === 'number') throw new Error('no connection');
    expect(client.state).toBe(TCP_ESTABLISHED);
    pair.wire.capture = true;
    const data = pattern(30_000);
    let sent = client.send(data);
    pair.clock.advance(100 * MS);
    expect(client.sndWnd).toBe(0);
    expect(conn.available()).toBeGreaterThanOrEqual(8192 - 128);
    pair.clock.advance(3000 * MS);
    const probes = pair.wire.captured.filter((x) => x.from === 'a' && isTcp(x.frame) && payloadLength(x.frame) === 0 &&
      be32(x.frame, L4_OFF + 4) === ((client.sndUna - 1) >>> 0));
    expect(probes.length).toBeGreaterThanOrEqual(3);
    const gaps = probes.slice(1).map((p, i) => p.atNs - probes[i]!.atNs);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBe(2 * gaps[i - 1]!);
    expect(pair.a.counters.TcpExt.TCPWinProbe).toBe(probes.length);
    // The application reads: a window update follows, and the rest flows.
    const out = new Uint8Array(data.length);
    let got = 0;
    const pump = (): void => {
      while (sent < data.length) {
        const n = client.send(data.subarray(sent));
        if (n <= 0) break;
        sent += n;
      }
      for (;;) {
        const n = conn.recv(out.subarray(got));
        if (n <= 0) break;
        got += n;
      }
    };
    client.onWake = pump;
    conn.onWake = pump;
    pump();
    pair.clock.runWhile(() => got < data.length);
    expect(out).toEqual(data);
  });

  it('window scaling: a 64 KiB+ receive buffer is advertised through the scale factor', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    const { client } = connect(pair);
    expect(client.sndWnd).toBeLessThanOrEqual(65535); // a SYN's window is never scaled
    client.send(pattern(10));
    pair.clock.advance(100 * MS);
    expect(client.sndWnd).toBeGreaterThan(65535);
    expect(client.sndWnd % 128).toBe(0);
  });
});

