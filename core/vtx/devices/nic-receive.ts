import { ETH_FCS, ETH_HEADER } from './ethernet-wire.js';
import { DESCRIPTOR_BYTES as DESC, NicContext } from './nic-context.js';
import * as NicRegisters from './nic-registers.js';
import { IPPROTO_TCP, IPPROTO_UDP, PacketHeaders, onesComplementSum, pseudoHeaderSum } from './packet-headers.js';
import { ToeplitzHash } from './toeplitz-hash.js';

// A plain copy: a module namespace compiled to CommonJS (tsx) reads every export through a getter.
const R = { ...NicRegisters };

/**
 * The receive half of an 82599 port: the destination filter, the parser, RSS (RSSRK, MRQC,
 * RETA), the descriptor rings of up to 16 queues and the packet buffer in front of them
 * (datasheet §7.1). Statistics are counted here and cleared by the register file when read.
 */
export class NicReceive {
  private readonly headers = new PacketHeaders();
  private readonly rssKey = new Uint8Array(40);
  private rss: ToeplitzHash | undefined;
  private rssDirty = true;
  // Results of `steer`, for the write-back.
  private rxHash = 0;
  private rxRssType = 0;

  // Frames waiting in the packet buffer for descriptors (SRRCTL.DROP_EN clear), in arrival order.
  private readonly waiting: Uint8Array[] = [];
  private readonly waitingQueue: number[] = [];
  private waitingBytes = 0;

  // Statistics: QPRC, QPRDC, GPRC, GORC, MPC(0); and frames the filter refused, or that found
  // receive or their queue disabled.
  readonly qprc = new Float64Array(R.NIC_QUEUES);
  readonly qprdc = new Float64Array(R.NIC_QUEUES);
  gprc = 0;
  gorc = 0;
  mpc = 0;
  filtered = 0;
  disabledDrops = 0;

  constructor(
    private readonly port: NicContext,
    /** Bytes of the packet buffer (RXPBSIZE(0)). */
    private readonly packetBuffer: number,
  ) {}

  reset(): void {
    this.qprc.fill(0);
    this.qprdc.fill(0);
    this.gprc = this.gorc = this.mpc = 0;
    this.waiting.length = 0;
    this.waitingQueue.length = 0;
    this.waitingBytes = 0;
    this.rssDirty = true;
  }

  /** RSSRK was written: the hash's tables are rebuilt before the next frame. */
  keyChanged(): void {
    this.rssDirty = true;
  }

  /** A frame arrives now: filtered, parsed, steered, and placed, held or dropped. */
  receive(frame: Uint8Array): void {
    const regs = this.port.regs;
    if ((regs[R.RXCTRL >>> 2]! & R.RXCTRL_RXEN) === 0) {
      this.disabledDrops++;
      return;
    }
    if (!this.accepts(frame)) {
      this.filtered++;
      return;
    }
    const q = this.steer(frame);
    // A frame for a queue that is switched off is dropped (82598/82599 datasheets: "packets to a
    // disabled queue are dropped"); held, it would stop every queue behind it in the buffer.
    if ((regs[R.rxdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) {
      this.disabledDrops++;
      return;
    }
    // One packet buffer, in order: while frames wait in it, a new one queues behind them. A queue
    // with SRRCTL.DROP_EN never waits: without a descriptor its frame is dropped and counted.
    const dropEn = (regs[R.srrctl(q) >>> 2]! & R.SRRCTL_DROP_EN) !== 0;
    if (this.waiting.length === 0 || dropEn) {
      if (this.place(frame, q, false)) return;
      if (dropEn) {
        this.qprdc[q]++;
        return;
      }
    }
    if (this.waitingBytes + frame.length > this.packetBuffer) {
      this.mpc++;
      return;
    }
    this.waiting.push(frame.slice());
    this.waitingQueue.push(q);
    this.waitingBytes += frame.length;
  }

  /** After a tail write: frames waiting in the packet buffer go to their queues, in order. */
  drain(): void {
    while (this.waiting.length > 0) {
      const frame = this.waiting[0]!;
      const q = this.waitingQueue[0]!;
      const enabled = (this.port.regs[R.rxdctl(q) >>> 2]! & R.XDCTL_ENABLE) !== 0;
      if (enabled && !this.place(frame, q, true)) return;
      if (!enabled) this.disabledDrops++; // a queue switched off discards what waits for it
      this.waiting.shift();
      this.waitingQueue.shift();
      this.waitingBytes -= frame.length;
    }
  }

  /** Destination-address filtering (RAL/RAH(0), FCTRL's promiscuous and broadcast bits). */
  private accepts(f: Uint8Array): boolean {
    if (f.length < ETH_HEADER) return false;
    const regs = this.port.regs;
    const fctrl = regs[R.FCTRL >>> 2]!;
    const broadcast = (f[0]! & f[1]! & f[2]! & f[3]! & f[4]! & f[5]!) === 0xff;
    if (broadcast) return (fctrl & R.FCTRL_BAM) !== 0;
    if ((f[0]! & 1) !== 0) return (fctrl & R.FCTRL_MPE) !== 0;
    if ((fctrl & R.FCTRL_UPE) !== 0) return true;
    const lo = regs[R.ral(0) >>> 2]!;
    const hi = regs[R.rah(0) >>> 2]!;
    if ((hi & R.RAH_AV) === 0) return false;
    return (
      f[0] === (lo & 0xff) && f[1] === ((lo >>> 8) & 0xff) && f[2] === ((lo >>> 16) & 0xff) && f[3] === lo >>> 24 &&
      f[4] === (hi & 0xff) && f[5] === ((hi >>> 8) & 0xff)
    );
  }

  /**
   * Parses the frame and picks its queue: an EtherType filter (ETQF/ETQS) that names the frame's
   * EtherType, else RSS through RETA, else queue 0 (the datasheet's order, §7.1.2: L2 EtherType
   * filters are asked before RSS).
   */
  private steer(frame: Uint8Array): number {
    const regs = this.port.regs;
    const h = this.headers.parse(frame, frame.length);
    const mrqc = regs[R.MRQC >>> 2]!;
    this.rxHash = 0;
    this.rxRssType = R.RSSTYPE_NONE;
    const etherType = (frame[12]! << 8) | frame[13]!;
    for (let n = 0; n < R.ETQF_FILTERS; n++) {
      const f = regs[R.etqf(n) >>> 2]!;
      if ((f & R.ETQF_FILTER_EN) === 0 || (f & R.ETQF_ETYPE_MASK) !== etherType) continue;
      const s = regs[R.etqs(n) >>> 2]!;
      if ((s & R.ETQS_QUEUE_EN) !== 0) return ((s >>> R.ETQS_RX_QUEUE_SHIFT) & 0x7f) % R.NIC_QUEUES;
      break;
    }
    if ((mrqc & R.MRQC_MRQE_MASK) !== R.MRQC_MRQE_RSS || h.l3 < 0) return 0;
    const hash = this.rssHash();
    if (h.l4 >= 0 && h.protocol === IPPROTO_TCP && (mrqc & R.MRQC_RSS_TCPIPV4) !== 0) {
      this.rxHash = hash.ipv4Tcp(h.src, h.dst, h.srcPort, h.dstPort);
      this.rxRssType = R.RSSTYPE_TCP_IPV4;
    } else if (h.l4 >= 0 && h.protocol === IPPROTO_UDP && (mrqc & R.MRQC_RSS_UDPIPV4) !== 0) {
      this.rxHash = hash.ipv4Tcp(h.src, h.dst, h.srcPort, h.dstPort); // same 12-byte input as TCP
      this.rxRssType = R.RSSTYPE_UDP_IPV4;
    } else if ((mrqc & R.MRQC_RSS_IPV4) !== 0) {
      this.rxHash = hash.ipv4(h.src, h.dst);
      this.rxRssType = R.RSSTYPE_IPV4;
    } else return 0;
    const entry = this.rxHash & 127;
    return (regs[R.reta(entry >>> 2) >>> 2]! >>> ((entry & 3) * 8)) & 0xf;
  }

  private rssHash(): ToeplitzHash {
    if (this.rssDirty || this.rss === undefined) {
      for (let n = 0; n < 10; n++) {
        const w = this.port.regs[R.rssrk(n) >>> 2]!;
        this.rssKey[4 * n] = w & 0xff;
        this.rssKey[4 * n + 1] = (w >>> 8) & 0xff;
        this.rssKey[4 * n + 2] = (w >>> 16) & 0xff;
        this.rssKey[4 * n + 3] = w >>> 24;
      }
      this.rss = new ToeplitzHash(this.rssKey.slice());
      this.rssDirty = false;
    }
    return this.rss;
  }

  /**
   * DMAs a frame into queue `q`'s descriptors from RDH, writes them back (§7.1.6.2) and advances
   * RDH. False when the queue is disabled or has too few descriptors (RDH to RDT-1) for it.
   */
  private place(frame: Uint8Array, q: number, fromBuffer: boolean): boolean {
    const { regs, dma } = this.port;
    if ((regs[R.rxdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) return false;
    const count = (regs[R.rdlen(q) >>> 2]! & 0xf_ff80) / DESC;
    if (count === 0) return false;
    const head = regs[R.rdh(q) >>> 2]! % count;
    const tail = regs[R.rdt(q) >>> 2]! % count;
    const available = (tail - head + count) % count;
    const bufSize = ((regs[R.srrctl(q) >>> 2]! & R.SRRCTL_BSIZEPKT_MASK) || 2) * 1024;
    const len = frame.length;
    const needed = Math.max(1, Math.ceil(len / bufSize));
    if (available < needed) return false;
    if (fromBuffer) this.steer(frame); // a frame that waited: parse and hash it again for its write-back
    const h = this.headers;
    let pktType = 0;
    let status = 0;
    if (h.l3 >= 0) {
      pktType |= R.PKTTYPE_IPV4;
      status |= R.RXD_STAT_IPCS;
      if (onesComplementSum(frame, h.l3, h.ipHeaderLength) !== 0xffff) status |= R.RXD_ERR_IPE;
      if (h.l4 >= 0) {
        pktType |= h.protocol === IPPROTO_TCP ? R.PKTTYPE_TCP : R.PKTTYPE_UDP;
        const l4Len = h.ipTotalLength - h.ipHeaderLength;
        const udpNoSum = h.protocol === IPPROTO_UDP && frame[h.l4 + 6] === 0 && frame[h.l4 + 7] === 0;
        if (!udpNoSum) {
          status |= R.RXD_STAT_L4CS | (h.protocol === IPPROTO_UDP ? R.RXD_STAT_UDPCS : 0);
          const sum = onesComplementSum(frame, h.l4, l4Len, pseudoHeaderSum(h.src, h.dst, h.protocol, l4Len));
          if (sum !== 0xffff) status |= R.RXD_ERR_TCPE;
        }
      }
    }
    const pcsd = (regs[R.RXCSUM >>> 2]! & R.RXCSUM_PCSD) !== 0;
    const ring = regs[R.rdbah(q) >>> 2]! * 2 ** 32 + ((regs[R.rdbal(q) >>> 2]! & ~0x7f) >>> 0);
    let at = 0;
    let index = head;
    for (let d = 0; d < needed; d++) {
      const desc = ring + index * DESC;
      const buf = dma.read32(desc + 4) * 2 ** 32 + dma.read32(desc); // read format: packet buffer address
      const n = Math.min(bufSize, len - at);
      dma.write(buf, at === 0 && n === len ? frame : frame.subarray(at, at + n));
      at += n;
      const last = d === needed - 1;
      dma.write32(desc, this.rxRssType | pktType);
      dma.write32(desc + 4, pcsd ? this.rxHash : 0);
      dma.write32(desc + 8, ((last ? status | R.RXD_STAT_EOP : 0) | R.RXD_STAT_DD) >>> 0);
      dma.write32(desc + 12, n);
      index = (index + 1) % count;
    }
    regs[R.rdh(q) >>> 2] = index;
    this.qprc[q]++;
    this.gprc++;
    this.gorc += len + ETH_FCS; // octets counted with the CRC
    this.port.queueCause(q, 0);
    return true;
  }
}
