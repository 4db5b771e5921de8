import { describe, expect, it } from 'vitest';
import { ARP_REACHABLE_NS, ARP_RETRANS_NS, ARPOP_REPLY } from '../../core/net/arp-cache.js';
import { ETH_HLEN } from '../../core/net/ethernet.js';
import { be16, putBe16, putBe32 } from '../../core/net/ipv4.js';
import { A_ADDR, B_ADDR, stackPair } from './test-wire.js';

const MS = 1_000_000;

function arpFrames(pair: ReturnType<typeof stackPair>): Array<{ from: string; op: number }> {
  return pair.wire.captured.filter((c) => be16(c.frame, 12) === 0x0806).map((c) => ({ from: c.from, op: be16(c.frame, 20) }));
}

/** An ARP packet from `mac`/`ip` (as a reply to a, or a gratuitous announcement). */
function arpPacket(op: number, senderMac: number[], senderIp: number, targetIp: number): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + 28);
  f.fill(0xff, 0, 6);
  f.set(senderMac, 6);
  putBe16(f, 12, 0x0806);
  putBe16(f, 14, 1);
  putBe16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  putBe16(f, 20, op);
  f.set(senderMac, 22);
  putBe32(f, 28, senderIp);
  putBe32(f, 38, targetIp);
  return f;
}

describe('ARP', () => {
  it('resolves with a broadcast request and a unicast reply; packets wait for it; the target learns the asker', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.wire.capture = true;
    const replies: number[] = [];
    pair.a.onEchoReply = (r) => replies.push(r.sequence);
    for (let i = 1; i <= 3; i++) pair.a.sendEchoRequest(B_ADDR, 7, i, new Uint8Array(8));
    pair.clock.advance(10 * MS);
    expect(replies).toEqual([1, 2, 3]);
    expect(arpFrames(pair)).toEqual([{ from: 'a', op: 1 }, { from: 'b', op: 2 }]);
    const req = pair.wire.captured[0]!.frame;
    expect([...req.subarray(0, 6)]).toEqual([255, 255, 255, 255, 255, 255]);
    expect([...pair.a.interfaces[0]!.arp.lookup(B_ADDR)!]).toEqual([...pair.wire.b.mac]);
    expect([...pair.b.interfaces[0]!.arp.lookup(A_ADDR)!]).toEqual([...pair.wire.a.mac]);
    expect(pair.a.counters.Arp.OutRequests).toBe(1);
    expect(pair.b.counters.Arp.OutReplies).toBe(1);
  });

  it('gives up after mcast_solicit = 3 requests a second apart, discarding what waited', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.wire.capture = true;
    pair.wire.b.cut = true;
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(8));
    pair.clock.advance(10_000 * MS);
    const times = pair.wire.captured.filter((c) => c.from === 'a').map((c) => c.atNs);
    expect(times).toEqual([0, ARP_RETRANS_NS, 2 * ARP_RETRANS_NS]);
    expect(pair.a.counters.Arp.ResolveFailed).toBe(1);
    expect(pair.a.counters.Arp.UnresolvedDiscards).toBe(1);
    expect(pair.a.interfaces[0]!.arp.lookup(B_ADDR)).toBeNull();
  });

  it('ignores unsolicited replies (arp_accept = 0) but lets them update an entry that exists', () => {
    const pair = stackPair();
    const stranger = [0x02, 0, 0, 0, 0, 0x33];
    pair.a.receive(pair.wire.a, arpPacket(ARPOP_REPLY, stranger, 0x0a000033, A_ADDR));
    expect(pair.a.interfaces[0]!.arp.lookup(0x0a000033)).toBeNull();
    expect(pair.a.counters.Arp.Ignored).toBe(1);
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(0));
    pair.clock.advance(10 * MS);
    const moved = [0x02, 0, 0, 0, 0, 0x44];
    pair.a.receive(pair.wire.a, arpPacket(ARPOP_REPLY, moved, B_ADDR, B_ADDR)); // gratuitous
    expect([...pair.a.interfaces[0]!.arp.lookup(B_ADDR)!]).toEqual(moved);
  });

  it('asks again once an entry is older than base_reachable_time (30 s), still using the old address meanwhile', () => {
    const pair = stackPair({ delayNs: 1 * MS });
    pair.wire.capture = true;
    pair.a.sendEchoRequest(B_ADDR, 1, 1, new Uint8Array(0));
    pair.clock.advance(10 * MS);
    pair.clock.advance(ARP_REACHABLE_NS);
    const replies: number[] = [];
    pair.a.onEchoReply = (r) => replies.push(r.sequence);
    pair.a.sendEchoRequest(B_ADDR, 1, 2, new Uint8Array(0));
    pair.clock.advance(10 * MS);
    expect(replies).toEqual([2]);
    expect(pair.a.counters.Arp.OutRequests).toBe(2);
  });

  it('drops malformed ARP packets and counts them', () => {
    const pair = stackPair();
    const bad = arpPacket(1, [0x02, 0, 0, 0, 0, 0x55], 0x0a000055, A_ADDR);
    bad[19] = 16; // protocol address length 16: not IPv4
    pair.a.receive(pair.wire.a, bad);
    pair.a.receive(pair.wire.a, bad.subarray(0, 30));
    expect(pair.a.counters.Arp.InErrors).toBe(2);
    expect(pair.a.interfaces[0]!.arp.size).toBe(0);
  });
});
