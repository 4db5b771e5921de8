import { describe, expect, it } from 'vitest';
import { ECONNREFUSED, EINPROGRESS, POLLIN, POLLOUT } from '../../core/linux/linux-abi.js';
import { IP_OFF, L4_OFF, be16, be32 } from '../../core/net/ipv4.js';
import { TH_ACK, TH_SYN } from '../../core/net/tcp-header.js';
import { TCP_CLOSE, TCP_ESTABLISHED, TCP_SYN_SENT } from '../../core/net/tcp-state.js';
import { connect, pattern, readAll } from './tcp-helpers.js';
import { A_ADDR, B_ADDR, stackPair } from './test-wire.js';

describe('TCP handshake and data', () => {
  it('resolves the peer by ARP, then SYN, SYN-ACK, ACK with MSS and window scale options', () => {
    const pair = stackPair({ delayNs: 1_000_000 });
    pair.wire.capture = true;
    const { client, conn } = connect(pair);
    expect(client.state).toBe(TCP_ESTABLISHED);
    expect(conn.state).toBe(TCP_ESTABLISHED);
    const kinds = pair.wire.captured.map((c) => {
      const f = c.frame;
      if (be16(f, 12) === 0x0806) return `${c.from}:arp${be16(f, 20)}`;
      const flags = f[L4_OFF + 13]!;
      return `${c.from}:${flags & TH_SYN ? 'S' : ''}${flags & TH_ACK ? 'A' : ''}`;
    });
    expect(kinds).toEqual(['a:arp1', 'b:arp2', 'a:S', 'b:SA', 'a:A']);
    const syn = pair.wire.captured[2]!.frame;
    expect(be32(syn, IP_OFF + 12)).toBe(A_ADDR);
    expect(be32(syn, IP_OFF + 16)).toBe(B_ADDR);
    expect(syn[IP_OFF + 6]! & 0x40).toBe(0x40); // DF
    expect(syn[IP_OFF + 8]).toBe(64); // TTL
    // Options: MSS 1460, NOP, window scale 7 (tcp_rmem[2] = 6 MiB).
    expect([...syn.subarray(L4_OFF + 20, L4_OFF + 28)]).toEqual([2, 4, 0x05, 0xb4, 1, 3, 3, 7]);
    expect(client.mss).toBe(1460);
    expect(conn.sndWscale).toBe(7);
    expect(client.sndWscale).toBe(7);
    // The SYN-ACK acknowledges ISN + 1.
    const synAck = pair.wire.captured[3]!.frame;
    expect(be32(synAck, L4_OFF + 8)).toBe((be32(syn, L4_OFF + 4) + 1) >>> 0);
    expect(pair.a.counters.Tcp.ActiveOpens).toBe(1);
    expect(pair.b.counters.Tcp.PassiveOpens).toBe(1);
    expect(pair.a.counters.Tcp.CurrEstab).toBe(1);
    // The handshake gave the first RTT sample: the SYN waited 2 ms for ARP, then 2 ms for its
    // answer (Linux too stamps a segment when TCP hands it down, not when the NIC sends it).
    expect(client.rto.srtt).toBe(4_000_000);
    expect(conn.rto.srtt).toBe(2_000_000);
  });

  it('carries data both ways, byte for byte, and reports readiness through onWake', () => {
    const pair = stackPair();
    const { client, conn } = connect(pair);
    const events: number[] = [];
    conn.onWake = (e) => events.push(e);
    const msg = pattern(5000);
    expect(client.send(msg)).toBe(5000);
    pair.clock.advance(10_000_000);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)! & POLLIN).toBe(POLLIN);
    expect(conn.poll() & (POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    expect(readAll(conn)).toEqual(msg);
    expect(conn.send(new TextEncoder().encode('pong'))).toBe(4);
    pair.clock.advance(10_000_000);
    expect(new TextDecoder().decode(readAll(client))).toBe('pong');
    expect(pair.a.counters.Work.BytesCopiedFromUser).toBe(5000);
    expect(pair.b.counters.Work.BytesCopiedToUser).toBe(5000);
  });

  it('a SYN to a port nobody listens on is answered by RST: connect fails with ECONNREFUSED', () => {
    const pair = stackPair();
    const client = pair.a.tcpSocket();
    let woke = 0;
    client.onWake = () => woke++;
    expect(client.connect(B_ADDR, 9)).toBe(-EINPROGRESS);
    expect(client.state).toBe(TCP_SYN_SENT);
    pair.clock.advance(100_000_000);
    expect(client.state).toBe(TCP_CLOSE);
    expect(woke).toBe(1);
    expect(client.takeError()).toBe(ECONNREFUSED);
    expect(pair.b.counters.Tcp.OutRsts).toBe(1);
    expect(pair.a.counters.Tcp.AttemptFails).toBe(1);
  });

  it('ISNs differ per 4-tuple and move with time (secure_tcp_seq), and repeat for the same inputs', () => {
    const run = (): number[] => {
      const pair = stackPair();
      const server = pair.b.tcpSocket();
      server.bind(0, 80);
      server.listen(8);
      const out: number[] = [];
      for (let i = 0; i < 3; i++) {
        const c = pair.a.tcpSocket();
        c.connect(B_ADDR, 80);
        out.push(c.iss);
        pair.clock.advance(1_000_000);
      }
      return out;
    };
    const first = run();
    expect(new Set(first).size).toBe(3);
    expect(run()).toEqual(first);
  });
});
