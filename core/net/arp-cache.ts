import { BROADCAST_MAC, ETH_HLEN, ETH_P_ARP, ETH_P_IP, macEquals, writeEthernetSource } from './ethernet.js';
import { be16, be32, putBe16, putBe32 } from './ipv4.js';
import type { NetInterface } from './net-interface.js';
import { NS_PER_MS } from './net-timers.js';

/** ARP (RFC 826) over Ethernet for IPv4: hardware type 1, protocol 0x0800, lengths 6 and 4. */
export const ARP_LEN = 28;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

/**
 * Linux's neighbour-table defaults (net/ipv4/arp.c arp_tbl, `ip ntable show`): an entry is
 * REACHABLE for base_reachable_time (30 s; Linux draws it from [15, 45) s, here it is exactly
 * 30 s so runs repeat), a request is retransmitted every retrans_time (1 s), resolution gives up
 * after mcast_solicit (3) requests, at most unres_qlen (101) packets wait for an address, and the
 * table holds at most gc_thresh3 (1024) entries.
 */
export const ARP_REACHABLE_NS = 30_000 * NS_PER_MS;
export const ARP_RETRANS_NS = 1_000 * NS_PER_MS;
export const ARP_MCAST_SOLICIT = 3;
export const ARP_UNRES_QLEN = 101;
export const ARP_GC_THRESH3 = 1024;

/** One neighbour: INCOMPLETE while `mac` is null, REACHABLE until `confirmedAt` + 30 s, then STALE. */
class ArpEntry {
  mac: Uint8Array | null = null;
  confirmedAt = 0;
  /** Requests sent for the resolution or re-confirmation under way (0: none under way). */
  probes = 0;
  timer = 0;
  pending: Uint8Array[] = [];
  readonly onTimer: () => void;

  constructor(readonly ip: number, cache: ArpCache) {
    this.onTimer = () => cache.probeTimer(this);
  }
}

/**
 * The neighbour table of one interface. IP output hands it a frame whose destination MAC is
 * still blank; it fills the MAC in and transmits, or queues the frame and asks with a broadcast
 * request. Like Linux with net.ipv4.conf.*.arp_accept = 0, an ARP packet never creates an entry
 * by itself, except a request addressed to us (we will answer its sender): unsolicited
 * ("gratuitous") replies and announcements only update entries that exist.
 */
export class ArpCache {
  private readonly entries = new Map<number, ArpEntry>();

  constructor(private readonly iface: NetInterface) {}

  /** The cached MAC of `ip`, or null (tests and `ip neigh`). */
  lookup(ip: number): Uint8Array | null {
    return this.entries.get(ip >>> 0)?.mac ?? null;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Sends `frame` (Ethernet source and type already written) to the neighbour `nextHop`. */
  output(nextHop: number, frame: Uint8Array): void {
    const now = this.iface.timers.now();
    let e = this.entries.get(nextHop);
    if (e !== undefined && e.mac !== null) {
      frame.set(e.mac, 0);
      this.iface.transmit(frame);
      // STALE: keep using the address, and ask again once (Linux's DELAY/PROBE, simplified).
      if (now - e.confirmedAt >= ARP_REACHABLE_NS && e.probes === 0) this.solicit(e);
      return;
    }
    if (e === undefined) {
      const created = this.create(nextHop);
      if (created === null) {
        this.iface.counters.Arp.UnresolvedDiscards++;
        return;
      }
      e = created;
    }
    if (e.pending.length >= ARP_UNRES_QLEN) {
      // __neigh_event_send drops the oldest queued packet to make room.
      e.pending.shift();
      this.iface.counters.Arp.UnresolvedDiscards++;
    }
    e.pending.push(frame);
    if (e.probes === 0) this.solicit(e);
  }

  /** One received ARP packet at `off` of `frame`, `len` bytes long. */
  input(frame: Uint8Array, off: number, len: number): void {
    const c = this.iface.counters.Arp;
    if (len < ARP_LEN || be16(frame, off) !== 1 || be16(frame, off + 2) !== ETH_P_IP ||
      frame[off + 4] !== 6 || frame[off + 5] !== 4) {
      c.InErrors++;
      return;
    }
    const op = be16(frame, off + 6);
    const sha = off + 8;
    const sip = be32(frame, off + 14);
    const tip = be32(frame, off + 24);
    if (op !== ARPOP_REQUEST && op !== ARPOP_REPLY) {
      c.InErrors++;
      return;
    }
    // arp_process: a sender claiming a broadcast or multicast MAC, or our own address, is ignored.
    if ((frame[sha]! & 1) !== 0 || macEquals(frame, sha, this.iface.mac)) {
      c.InErrors++;
      return;
    }
    if (op === ARPOP_REQUEST) c.InRequests++;
    else c.InReplies++;
    const forUs = tip === this.iface.address;
    let e = this.entries.get(sip);
    if (e === undefined && op === ARPOP_REQUEST && forUs && sip !== 0 && this.iface.onLink(sip)) {
      e = this.create(sip) ?? undefined;
    }
    if (e !== undefined && sip !== 0) this.confirm(e, frame, sha);
    else c.Ignored++;
    if (op === ARPOP_REQUEST && forUs && sip !== this.iface.address) this.reply(frame, sha, sip);
  }

  /** The retransmit timer of an entry being resolved or re-confirmed. */
  probeTimer(e: ArpEntry): void {
    e.timer = 0;
    this.iface.counters.Work.TimersFired++;
    if (e.probes === 0) return;
    if (e.probes < ARP_MCAST_SOLICIT) {
      this.solicit(e);
      return;
    }
    // FAILED: what waited is lost, and the next packet starts over.
    const c = this.iface.counters.Arp;
    c.ResolveFailed++;
    c.UnresolvedDiscards += e.pending.length;
    e.pending = [];
    this.entries.delete(e.ip);
  }

  private create(ip: number): ArpEntry | null {
    if (this.entries.size >= ARP_GC_THRESH3) {
      // neigh_forced_gc: drop entries nobody is resolving whose time has passed.
      const now = this.iface.timers.now();
      for (const [k, v] of this.entries) {
        if (v.mac !== null && v.probes === 0 && now - v.confirmedAt >= ARP_REACHABLE_NS) this.entries.delete(k);
      }
      if (this.entries.size >= ARP_GC_THRESH3) {
        this.iface.counters.Arp.TableFull++;
        return null;
      }
    }
    const e = new ArpEntry(ip, this);
    this.entries.set(ip, e);
    return e;
  }

  private confirm(e: ArpEntry, frame: Uint8Array, sha: number): void {
    const mac = e.mac !== null && macEquals(frame, sha, e.mac) ? e.mac : frame.slice(sha, sha + 6);
    e.mac = mac;
    e.confirmedAt = this.iface.timers.now();
    e.probes = 0;
    if (e.timer !== 0) {
      this.iface.timers.cancel(e.timer);
      e.timer = 0;
    }
    const pending = e.pending;
    e.pending = [];
    for (const f of pending) {
      f.set(mac, 0);
      this.iface.transmit(f);
    }
  }

  private solicit(e: ArpEntry): void {
    e.probes++;
    const f = this.frame(BROADCAST_MAC, ARPOP_REQUEST, null, e.ip);
    this.iface.counters.Arp.OutRequests++;
    this.iface.transmit(f);
    this.iface.counters.Work.TimersArmed++;
    e.timer = this.iface.timers.schedule(this.iface.timers.now() + ARP_RETRANS_NS, e.onTimer);
  }

  private reply(req: Uint8Array, sha: number, sip: number): void {
    const mac = req.slice(sha, sha + 6);
    const f = this.frame(mac, ARPOP_REPLY, mac, sip);
    this.iface.counters.Arp.OutReplies++;
    this.iface.transmit(f);
  }

  private frame(dstMac: Uint8Array, op: number, targetMac: Uint8Array | null, targetIp: number): Uint8Array {
    const f = new Uint8Array(ETH_HLEN + ARP_LEN);
    this.iface.counters.Work.FramesBuilt++;
    f.set(dstMac, 0);
    writeEthernetSource(f, this.iface.mac, ETH_P_ARP);
    const o = ETH_HLEN;
    putBe16(f, o, 1);
    putBe16(f, o + 2, ETH_P_IP);
    f[o + 4] = 6;
    f[o + 5] = 4;
    putBe16(f, o + 6, op);
    f.set(this.iface.mac, o + 8);
    putBe32(f, o + 14, this.iface.address);
    if (targetMac !== null) f.set(targetMac, o + 18);
    putBe32(f, o + 24, targetIp);
    return f;
  }
}
