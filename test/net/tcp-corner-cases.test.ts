import { describe, expect, it } from 'vitest';
import { ECONNREFUSED, POLLERR, POLLHUP, POLLOUT } from '../../core/linux/linux-abi.js';
import { ETH_HLEN, ETH_P_IP, writeEthernetSource } from '../../core/net/ethernet.js';
import { internetChecksum } from '../../core/net/internet-checksum.js';
import { IP_OFF, IPPROTO_ICMP, L4_OFF, be16, be32, putBe16, putBe32, writeIpv4Header } from '../../core/net/ipv4.js';
import { TH_SYN } from '../../core/net/tcp-header.js';
import { TCP_CLOSE, TCP_ESTABLISHED, TCP_SYN_SENT } from '../../core/net/tcp-state.js';
import { connect, pattern, readAll } from './tcp-helpers.js';
import { A_ADDR, B_ADDR, stackPair } from './test-wire.js';

const MS = 1_000_000;

function isTcpData(f: Uint8Array): boolean {
  return be16(f, 12) === 0x0800 && f[23] === 6 && be16(f, 16) - 20 - (f[L4_OFF + 12]! >>> 4) * 4 > 0;
}

describe('TCP corner cases', () => {
  it('simultaneous open: two SYNs cross, both sides pass SYN_RECV and connect', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(0)); // both ARP caches warm
    pair.clock.advance(10 * MS);
    const x = pair.a.tcpSocket();
    const y = pair.b.tcpSocket();
    x.bind(0, 1111);
    y.bind(0, 2222);
    x.connect(B_ADDR, 2222);
    y.connect(A_ADDR, 1111);
    pair.clock.advance(20 * MS);
    expect(x.state).toBe(TCP_ESTABLISHED);
    expect(y.state).toBe(TCP_ESTABLISHED);
    x.send(new TextEncoder().encode('hi'));
    pair.clock.advance(100 * MS);
    expect(new TextDecoder().decode(readAll(y))).toBe('hi');
  });

  it('poll reports a connect in progress, a connection, and a refusal as the kernel expects', () => {
    const pair = stackPair();
    const c = pair.a.tcpSocket();
    c.connect(B_ADDR, 1);
    expect(c.state).toBe(TCP_SYN_SENT);
    expect(c.poll() & (POLLOUT | POLLERR)).toBe(0);
    pair.clock.advance(10 * MS);
    expect(c.poll() & (POLLERR | POLLHUP)).toBe(POLLERR | POLLHUP);
    expect(c.takeError()).toBe(ECONNREFUSED);
    const { client } = connect(pair);
    expect(client.poll() & POLLOUT).toBe(POLLOUT);
  });

  it("Nagle (Minshall's variant): a second small write waits for the ACK of the first unless TCP_NODELAY", () => {
    const run = (noDelay: boolean): number[] => {
      const pair = stackPair({ delayNs: 1 * MS });
      const { client } = connect(pair);
      client.noDelay = noDelay;
      pair.wire.capture = true;
      const t0 = pair.clock.now();
      client.send(pattern(10));
      client.send(pattern(10));
      pair.clock.advance(200 * MS);
      return pair.wire.captured.filter((c) => c.from === 'a' && isTcpData(c.frame)).map((c) => (c.atNs - t0) / MS);
    };
    expect(run(true)).toEqual([0, 0]);
    // Held until b's ACK (sent at once: the first data of a connection is in quick-ACK mode) is back.
    expect(run(false)).toEqual([0, 2]);
  });

  it('an ICMP port unreachable fails a connect only if it quotes the SYN actually in flight', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.wire.capture = true;
    pair.wire.filter = (f, from) => from === 'a' && f[23] === 6; // the SYN never arrives
    const c = pair.a.tcpSocket();
    c.connect(B_ADDR, 80);
    pair.clock.advance(10 * MS);
    const syn = pair.wire.captured.find((x) => x.from === 'a' && x.frame[23] === 6 && (x.frame[L4_OFF + 13]! & TH_SYN))!.frame;
    const icmpFrom = (seqDelta: number): Uint8Array => {
      const quoted = syn.slice(IP_OFF, L4_OFF + 8);
      putBe32(quoted, 24, (be32(quoted, 24) + seqDelta) >>> 0);
      const icmpLen = 8 + quoted.length;
      const f = new Uint8Array(ETH_HLEN + 20 + icmpLen);
      f.set(pair.wire.a.mac, 0);
      writeEthernetSource(f, pair.wire.b.mac, ETH_P_IP);
      f[L4_OFF] = 3; // destination unreachable
      f[L4_OFF + 1] = 3; // port unreachable
      f.set(quoted, L4_OFF + 8);
      putBe16(f, L4_OFF + 2, internetChecksum(f, L4_OFF, icmpLen));
      writeIpv4Header(f, B_ADDR, A_ADDR, IPPROTO_ICMP, icmpLen, 99);
      return f;
    };
    pair.a.receive(pair.wire.a, icmpFrom(12345));
    expect(c.state).toBe(TCP_SYN_SENT);
    expect(pair.a.counters.TcpExt.OutOfWindowIcmps).toBe(1);
    pair.a.receive(pair.wire.a, icmpFrom(0));
    expect(c.state).toBe(TCP_CLOSE);
    expect(c.takeError()).toBe(ECONNREFUSED);
  });

  it('an ACK for data never sent is answered and ignored (RFC 5961 §5)', () => {
    const pair = stackPair();
    pair.wire.capture = true;
    const { client, conn } = connect(pair);
    client.send(pattern(10));
    pair.clock.advance(100 * MS);
    const frame = pair.wire.captured.filter((x) => x.from === 'b' && x.frame[23] === 6).at(-1)!.frame.slice();
    putBe32(frame, L4_OFF + 8, (client.sndNxt + 100_000) >>> 0);
    frame[L4_OFF + 16] = 0;
    frame[L4_OFF + 17] = 0;
    let sum = 6 + 20 + 0x0a00 + 2 + 0x0a00 + 1;
    for (let i = 0; i < 20; i += 2) sum += be16(frame, L4_OFF + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    putBe16(frame, L4_OFF + 16, ~sum & 0xffff);
    const una = client.sndUna;
    pair.a.receive(pair.wire.a, frame);
    expect(client.sndUna).toBe(una);
    expect(pair.a.counters.TcpExt.TCPChallengeACK).toBe(1);
    expect(conn.state).toBe(TCP_ESTABLISHED);
  });

  it('a peer cannot make the receiver hold thousands of tiny out-of-order segments', () => {
    const pair = stackPair();
    pair.wire.capture = true;
    const { client, conn } = connect(pair);
    client.send(pattern(1));
    pair.clock.advance(100 * MS);
    readAll(conn);
    const template = pair.wire.captured.filter((x) => x.from === 'a' && isTcpData(x.frame)).at(-1)!.frame;
    const base = conn.rcvNxt;
    for (let i = 0; i < 5000; i++) {
      const f = template.slice();
      putBe32(f, L4_OFF + 4, (base + 2 + 2 * i) >>> 0); // every other byte: nothing merges
      f[L4_OFF + 16] = 0;
      f[L4_OFF + 17] = 0;
      let sum = 6 + 21 + 0x0a00 + 1 + 0x0a00 + 2;
      for (let k = 0; k < 21; k += 2) sum += (f[L4_OFF + k]! << 8) | (k + 1 < 21 ? f[L4_OFF + k + 1]! : 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      putBe16(f, L4_OFF + 16, ~sum & 0xffff);
      pair.b.receive(pair.wire.b, f);
    }
    const held = pair.b.counters.TcpExt.TCPOFOQueue;
    expect(held).toBeGreaterThan(100);
    expect(held).toBeLessThanOrEqual(131072 / 257);
    expect(pair.b.counters.TcpExt.TCPOFODrop).toBe(5000 - held);
  });
});

describe('lost handshake segments', () => {
  it('a repeated SYN makes the listener resend its SYN,ACK at once (the first was lost)', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(0));
    pair.clock.advance(10 * MS);
    const server = pair.b.tcpSocket();
    server.bind(0, 80);
    server.listen(4);
    let drops = 1;
    pair.wire.filter = (f, from) => from === 'b' && f[23] === 6 && drops-- > 0;
    pair.wire.capture = true;
    const c = pair.a.tcpSocket();
    c.connect(B_ADDR, 80);
    const t0 = pair.clock.now();
    pair.clock.advance(100 * MS);
    expect(c.state).toBe(TCP_SYN_SENT);
    // The same SYN again (as a duplicate on the wire would bring it), long before either timer.
    const syn = pair.wire.captured.find((x) => x.from === 'a' && x.frame[23] === 6)!.frame;
    pair.b.receive(pair.wire.b, syn.slice());
    pair.clock.runWhile(() => c.state !== TCP_ESTABLISHED);
    expect(pair.clock.now() - t0).toBe(101 * MS);
    expect(pair.b.counters.TcpExt.TCPSynRetrans).toBe(1);
  });
});

describe('spoofed segments', () => {
  it('random segments on a live 4-tuple never throw and never break the sequence invariants', () => {
    const pair = stackPair({ delayNs: 200_000 });
    pair.wire.capture = true;
    const { client, conn } = connect(pair);
    client.send(pattern(5000));
    pair.clock.advance(50 * MS);
    const template = pair.wire.captured.filter((x) => x.from === 'a' && isTcpData(x.frame)).at(-1)!.frame;
    let x = 99;
    const rnd = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    for (let i = 0; i < 3000; i++) {
      const f = template.slice();
      const near = (base: number): number => (base + rnd(400_000) - 200_000) >>> 0;
      putBe32(f, L4_OFF + 4, near(conn.rcvNxt));
      putBe32(f, L4_OFF + 8, near(conn.sndUna));
      f[L4_OFF + 13] = rnd(64);
      putBe16(f, L4_OFF + 14, rnd(65536));
      f[L4_OFF + 16] = 0;
      f[L4_OFF + 17] = 0;
      const tcpLen = be16(f, 16) - 20;
      let sum = 6 + tcpLen + 0x0a00 + 1 + 0x0a00 + 2;
      for (let k = 0; k < tcpLen; k += 2) sum += (f[L4_OFF + k]! << 8) | (k + 1 < tcpLen ? f[L4_OFF + k + 1]! : 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      putBe16(f, L4_OFF + 16, ~sum & 0xffff);
      expect(() => pair.b.receive(pair.wire.b, f)).not.toThrow();
      if (i % 100 === 0) {
        expect(() => pair.clock.advance(5 * MS)).not.toThrow();
        client.send(pattern(500));
        conn.recv(new Uint8Array(10_000));
      }
      for (const s of [client, conn]) {
        if (s.state === TCP_CLOSE) continue;
        expect(((s.sndNxt - s.sndUna) | 0) >= 0).toBe(true);
        expect(((s.sndMax - s.sndNxt) | 0) >= 0).toBe(true);
      }
    }
    expect(() => pair.clock.advance(300_000 * MS)).not.toThrow();
  });
});
