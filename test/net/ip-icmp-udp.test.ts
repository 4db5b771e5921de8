import { describe, expect, it } from 'vitest';
import { EACCES, ECONNREFUSED, EDESTADDRREQ, EMSGSIZE, ENETUNREACH } from '../../core/linux/linux-abi.js';
import { internetChecksum, pseudoHeaderSum } from '../../core/net/internet-checksum.js';
import { IP_OFF, L4_OFF, be16, ipFromString, putBe16 } from '../../core/net/ipv4.js';
import type { UdpPeer } from '../../core/net/udp-socket.js';
import { connect } from './tcp-helpers.js';
import { A_ADDR, B_ADDR, stackPair } from './test-wire.js';

const MS = 1_000_000;

describe('checksums and headers', () => {
  it('computes the RFC 1071 §3 example sum and the well-known IPv4 header checksum', () => {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (checksum 220d).
    const rfc = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(rfc, 0, rfc.length)).toBe(0x220d);
    // 192.168.0.1 → 192.168.0.199, UDP, id 0, DF, TTL 64, length 115: checksum b861.
    const hdr = new Uint8Array([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0,
      0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]);
    expect(internetChecksum(hdr, 0, 20)).toBe(0xb861);
    // An odd length pads with a zero byte.
    expect(internetChecksum(new Uint8Array([0x01]), 0, 1)).toBe(0xfeff);
  });

  it('builds UDP frames whose checksums a naive word-by-word sum confirms', () => {
    const pair = stackPair();
    pair.wire.capture = true;
    const s = pair.a.udpSocket();
    s.bind(0, 4000);
    s.sendTo(new TextEncoder().encode('hello, world!'), B_ADDR, 7);
    pair.clock.advance(10 * MS);
    const f = pair.wire.captured.find((c) => c.from === 'a' && c.frame[23] === 17)!.frame;
    expect(be16(f, L4_OFF)).toBe(4000);
    expect(be16(f, L4_OFF + 4)).toBe(8 + 13);
    // Independent check: pseudo-header plus the UDP bytes, folding after every word.
    let sum = 0;
    const add = (w: number): void => {
      sum += w;
      sum = (sum & 0xffff) + (sum >>> 16);
    };
    for (const w of [0x0a00, 0x0001, 0x0a00, 0x0002, 17, 21]) add(w);
    for (let i = 0; i < 21; i += 2) add((f[L4_OFF + i]! << 8) | (i + 1 < 21 ? f[L4_OFF + i + 1]! : 0));
    expect(sum).toBe(0xffff); // a correct checksum makes the sum all ones
    expect(internetChecksum(f, IP_OFF, 20)).toBe(0);
    expect(pseudoHeaderSum(A_ADDR, B_ADDR, 17, 21)).toBe(0x0a00 + 1 + 0x0a00 + 2 + 17 + 21);
  });
});

describe('ICMP echo', () => {
  it('answers ping with the same identifier, sequence and data', () => {
    const pair = stackPair();
    const replies: Array<{ id: number; sequence: number; data: number[] }> = [];
    pair.a.onEchoReply = (r) => replies.push({ id: r.id, sequence: r.sequence, data: [...r.data] });
    expect(pair.a.sendEchoRequest(B_ADDR, 0x1234, 1, new Uint8Array([1, 2, 3, 4, 5]))).toBe(0);
    pair.clock.advance(10 * MS);
    expect(replies).toEqual([{ id: 0x1234, sequence: 1, data: [1, 2, 3, 4, 5] }]);
    expect(pair.b.counters.Icmp.InEchos).toBe(1);
    expect(pair.b.counters.Icmp.OutEchoReps).toBe(1);
    expect(pair.a.sendEchoRequest(ipFromString('192.168.1.1'), 1, 1, new Uint8Array(0))).toBe(-ENETUNREACH);
    expect(pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(1500))).toBe(-EMSGSIZE);
  });
});

describe('UDP', () => {
  it('echoes datagrams: bind, sendTo, recvFrom with the sender address', () => {
    const pair = stackPair();
    const server = pair.b.udpSocket();
    expect(server.bind(0, 7)).toBe(0);
    server.onWake = () => {
      const buf = new Uint8Array(2048);
      const from: UdpPeer = { addr: 0, port: 0 };
      const n = server.recvFrom(buf, from);
      if (n > 0) server.sendTo(buf.subarray(0, n), from.addr, from.port);
    };
    const client = pair.a.udpSocket();
    expect(client.connect(B_ADDR, 7)).toBe(0);
    expect(client.sendTo(new TextEncoder().encode('ping'))).toBe(4);
    pair.clock.advance(10 * MS);
    const buf = new Uint8Array(100);
    const from: UdpPeer = { addr: 0, port: 0 };
    expect(client.recvFrom(buf, from)).toBe(4);
    expect(new TextDecoder().decode(buf.subarray(0, 4))).toBe('ping');
    expect(from).toEqual({ addr: B_ADDR, port: 7 });
    expect(pair.b.counters.Udp.InDatagrams).toBe(1);
    expect(pair.a.counters.Udp.OutDatagrams).toBe(1);
  });

  it('a datagram to a closed port draws ICMP port unreachable; a connected socket then sees ECONNREFUSED', () => {
    const pair = stackPair();
    const client = pair.a.udpSocket();
    client.connect(B_ADDR, 9999);
    client.sendTo(new Uint8Array(10));
    pair.clock.advance(10 * MS);
    expect(pair.b.counters.Udp.NoPorts).toBe(1);
    expect(pair.b.counters.Icmp.OutDestUnreachs).toBe(1);
    expect(pair.a.counters.Icmp.InDestUnreachs).toBe(1);
    expect(client.recvFrom(new Uint8Array(10))).toBe(-ECONNREFUSED);
    expect(client.recvFrom(new Uint8Array(10))).toBe(-11); // EAGAIN: the error is reported once
    // An unconnected socket is not told (no IP_RECVERR).
    const loose = pair.a.udpSocket();
    loose.sendTo(new Uint8Array(10), B_ADDR, 9998);
    pair.clock.advance(10 * MS);
    expect(loose.softError).toBe(0);
  });

  it('refuses what IP would have to fragment, sends without a destination, and broadcast without SO_BROADCAST', () => {
    const pair = stackPair();
    const s = pair.a.udpSocket();
    expect(s.sendTo(new Uint8Array(1472), B_ADDR, 7)).toBe(1472);
    expect(s.sendTo(new Uint8Array(1473), B_ADDR, 7)).toBe(-EMSGSIZE);
    expect(s.sendTo(new Uint8Array(1))).toBe(-EDESTADDRREQ);
    expect(s.sendTo(new Uint8Array(1), ipFromString('10.0.0.255'), 7)).toBe(-EACCES);
    const t = pair.a.udpSocket();
    expect(t.bind(0, s.localPort)).toBe(-98); // EADDRINUSE
  });

  it('drops datagrams beyond the receive buffer and counts RcvbufErrors', () => {
    const pair = stackPair();
    const server = pair.b.udpSocket();
    server.bind(0, 7);
    server.receiveBuffer = 3000;
    const c = pair.a.udpSocket();
    for (let i = 0; i < 5; i++) c.sendTo(new Uint8Array(1000), B_ADDR, 7);
    pair.clock.advance(10 * MS);
    expect(pair.b.counters.Udp.InDatagrams).toBe(3);
    expect(pair.b.counters.Udp.RcvbufErrors).toBe(2);
  });
});

describe('malformed frames are dropped and counted, never thrown', () => {
  /** A UDP frame from a to b's port 7, as a captured and edited copy. */
  function capturedFrames(): { udp: Uint8Array; tcp: Uint8Array; icmp: Uint8Array; pair: ReturnType<typeof stackPair> } {
    const pair = stackPair();
    pair.wire.capture = true;
    const server = pair.b.udpSocket();
    server.bind(0, 7);
    pair.a.udpSocket().sendTo(new Uint8Array(20).fill(7), B_ADDR, 7);
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(16));
    connect(pair);
    pair.clock.advance(10 * MS);
    const from = (p: number): Uint8Array => pair.wire.captured.find((c) => c.from === 'a' && c.frame[23] === p)!.frame;
    return { udp: from(17), tcp: from(6), icmp: from(1), pair };
  }

  function fixIp(f: Uint8Array): void {
    f[IP_OFF + 10] = 0;
    f[IP_OFF + 11] = 0;
    putBe16(f, IP_OFF + 10, internetChecksum(f, IP_OFF, 20));
  }

  it('counts each kind of damage under its Linux name', () => {
    const { udp, tcp, icmp, pair } = capturedFrames();
    const b = pair.b;
    const c = b.counters;
    const before = JSON.stringify(c.snapshot());
    const deliver = (f: Uint8Array): void => b.receive(pair.wire.b, f);

    deliver(udp.subarray(0, 10)); // runt Ethernet frame
    expect(c.Link.RxErrors).toBe(1);

    deliver(udp.subarray(0, 14 + 12)); // IP header cut short
    expect(c.Ip.InHdrErrors).toBe(1);

    const badIpSum = udp.slice();
    badIpSum[IP_OFF + 10]! ^= 0xff;
    deliver(badIpSum);
    expect(c.IpExt.InCsumErrors).toBe(1);
    expect(c.Ip.InHdrErrors).toBe(2);

    const badVersion = udp.slice();
    badVersion[IP_OFF] = 0x65;
    fixIp(badVersion);
    deliver(badVersion);
    expect(c.Ip.InHdrErrors).toBe(3);

    const tooLong = udp.slice();
    putBe16(tooLong, IP_OFF + 2, 1400);
    fixIp(tooLong);
    deliver(tooLong);
    expect(c.Ip.InTruncatedPkts).toBe(1);

    const shortTotal = udp.slice();
    putBe16(shortTotal, IP_OFF + 2, 12);
    fixIp(shortTotal);
    deliver(shortTotal);
    expect(c.Ip.InHdrErrors).toBe(4);

    const badUdpSum = udp.slice();
    badUdpSum[L4_OFF + 8]! ^= 1;
    deliver(badUdpSum);
    expect(c.Udp.InCsumErrors).toBe(1);
    expect(c.Udp.InErrors).toBe(1);

    const badUdpLen = udp.slice();
    putBe16(badUdpLen, L4_OFF + 4, 200);
    deliver(badUdpLen);
    expect(c.Udp.InErrors).toBe(2);

    const badTcpSum = tcp.slice();
    badTcpSum[L4_OFF + 4]! ^= 0x80;
    deliver(badTcpSum);
    expect(c.Tcp.InCsumErrors).toBe(1);
    expect(c.Tcp.InErrs).toBe(1);

    const badDoff = tcp.slice();
    badDoff[L4_OFF + 12] = 0x20; // data offset 2 words
    deliver(badDoff);
    expect(c.Tcp.InErrs).toBe(2);

    const badIcmp = icmp.slice();
    badIcmp[L4_OFF + 9]! ^= 1;
    deliver(badIcmp);
    expect(c.Icmp.InCsumErrors).toBe(1);

    const otherHost = udp.slice();
    otherHost[IP_OFF + 19] = 77;
    fixIp(otherHost);
    deliver(otherHost);
    expect(c.Ip.InAddrErrors).toBe(1);

    const fragment = udp.slice();
    putBe16(fragment, IP_OFF + 6, 0x2000); // MF
    fixIp(fragment);
    deliver(fragment);
    expect(c.Ip.ReasmFails).toBe(1);

    // Ethernet padding after the IP datagram is ignored.
    const padded = new Uint8Array(udp.length + 18);
    padded.set(udp);
    deliver(padded);
    expect(c.Udp.InDatagrams).toBe(2);
    expect(JSON.stringify(c.snapshot())).not.toBe(before);
  });

  it('survives random bytes and random corruption of valid frames', () => {
    const { udp, tcp, icmp, pair } = capturedFrames();
    let x = 12345;
    const rnd = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    const samples = [udp, tcp, icmp];
    for (let i = 0; i < 3000; i++) {
      const base = samples[i % 3]!;
      const f = i % 5 === 0 ? new Uint8Array(rnd(100)).map(() => rnd(256)) : base.slice(0, Math.max(1, base.length - rnd(8)));
      for (let k = rnd(4); k > 0; k--) f[rnd(f.length)] = rnd(256);
      if (i % 2 === 0 && f.length > 34) fixIp(f);
      expect(() => pair.b.receive(pair.wire.b, f)).not.toThrow();
      expect(() => pair.a.receive(pair.wire.a, f)).not.toThrow();
    }
    expect(() => pair.clock.advance(200_000 * MS)).not.toThrow();
  });
});

describe('the device boundary', () => {
  it('keeps frames a full device refused, in order, and sends them on transmitReady', () => {
    const pair = stackPair();
    const server = pair.b.udpSocket();
    server.bind(0, 7);
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(0)); // resolve ARP first
    pair.clock.advance(10 * MS);
    pair.wire.a.full = true;
    const c = pair.a.udpSocket();
    for (let i = 0; i < 3; i++) c.sendTo(new Uint8Array([i]), B_ADDR, 7);
    expect(pair.a.counters.Link.TxQueued).toBe(3);
    expect(pair.a.interfaces[0]!.queued).toBe(3);
    pair.wire.a.full = false;
    pair.a.transmitReady(pair.wire.a);
    pair.clock.advance(10 * MS);
    const got: number[] = [];
    const buf = new Uint8Array(4);
    while (server.recvFrom(buf) > 0) got.push(buf[0]!);
    expect(got).toEqual([0, 1, 2]);
  });

  it('delivers to its own address through the clock (a TCP connection to itself)', () => {
    const pair = stackPair();
    const server = pair.a.tcpSocket();
    server.bind(0, 80);
    server.listen(1);
    const client = pair.a.tcpSocket();
    client.connect(A_ADDR, 80);
    pair.clock.advance(1 * MS);
    const conn = server.accept();
    expect(typeof conn).toBe('object');
    expect(pair.wire.captured.length).toBe(0);
  });

  it('refuses bad interface configurations with a clear error', () => {
    const pair = stackPair();
    expect(() => pair.a.attach(pair.wire.a, { address: A_ADDR, prefixLength: 24 })).toThrow(/attached already/);
    expect(() => pair.b.attach({ name: 'x', mac: new Uint8Array(6), mtu: 1500, transmit: () => true },
      { address: 1, prefixLength: 33 })).toThrow(/prefix length/);
  });
});
