import { ETH_FCS, ETH_HEADER, ETH_MIN_FRAME, wireBytes } from './ethernet-wire.js';
import { DESCRIPTOR_BYTES as DESC, NicContext } from './nic-context.js';
import * as NicRegisters from './nic-registers.js';
import { onesComplementSum } from './packet-headers.js';

// A plain copy: a module namespace compiled to CommonJS (tsx) reads every export through a getter.
const R = { ...NicRegisters };

const PS_PER_SECOND = 1e12;
/** Largest frame the transmit path assembles (the 82599's jumbo limit is 15.5 KB). */
const MAX_TX_FRAME = 15_872;
/** Doorbells remembered per queue; beyond it a doorbell is merged into the newest one kept. */
const DOORBELL_SLOTS = 256;
/** Write-backs in flight at once; beyond it the oldest lands early. */
const WRITE_BACK_SLOTS = 256;

/** The wire side of a port: a frame whose last bit left at picosecond `endPs`. */
export type TransmitCallback = (frame: Uint8Array, endPs: number) => void;

/**
 * The transmit half of an 82599 port (datasheet §7.2): one MAC that takes a packet at a time
 * from the enabled queues, round robin; reads its descriptors from TDH and its buffers; inserts
 * checksums; and puts it on the wire after the previous one, at the line rate. Wire time is kept
 * in integer picoseconds, events on the machine's clock.
 */
export class NicTransmit {
  onTransmit: TransmitCallback = () => {};

  private readonly frame = new Uint8Array(MAX_TX_FRAME);
  // Context descriptors, two slots per queue (IDX): vlan_macip_lens and type_tucmd_mlhl.
  private readonly ctxMacIp = new Uint32Array(R.NIC_QUEUES * 2);
  private readonly ctxTucmd = new Uint32Array(R.NIC_QUEUES * 2);
  private readonly ctxValid = new Uint8Array(R.NIC_QUEUES * 2);
  /** When the wire is free (ps): the end of the last frame put on it. */
  private wireFreePs = 0;
  /** An event is pending that will look for the next packet. */
  private pending = false;
  private nextQueue = 0;
  private wakeAt = 0;
  private readonly nextAction = (): void => this.next();
  private readonly wakeAction = (): void => {
    this.pending = false;
    this.port.asOf(this.wakeAt, this.nextAction);
  };
  /** Resets so far: a frame on the wire across a reset is cut off. */
  private epoch = 0;

  // Doorbells per queue, oldest first: the tail each one posted and the clock it reached the
  // device. A packet's fetches start at the doorbell that posted its last descriptor.
  private readonly bellTail = new Uint16Array(R.NIC_QUEUES * DOORBELL_SLOTS);
  private readonly bellAt = new Float64Array(R.NIC_QUEUES * DOORBELL_SLOTS);
  private readonly bellHead = new Uint16Array(R.NIC_QUEUES);
  private readonly bellCount = new Uint16Array(R.NIC_QUEUES);

  // Write-backs on their way to RAM, in the order issued (all cross the link in the same time):
  // queue, ring, first and end descriptor, ring size, epoch, and the clock they land.
  private readonly wbQueue = new Uint8Array(WRITE_BACK_SLOTS);
  private readonly wbRing = new Float64Array(WRITE_BACK_SLOTS);
  private readonly wbFirst = new Uint16Array(WRITE_BACK_SLOTS);
  private readonly wbEnd = new Uint16Array(WRITE_BACK_SLOTS);
  private readonly wbCount = new Uint32Array(WRITE_BACK_SLOTS);
  private readonly wbEpoch = new Float64Array(WRITE_BACK_SLOTS);
  private readonly wbAt = new Float64Array(WRITE_BACK_SLOTS);
  private wbHead = 0;
  private wbPending = 0;
  private readonly wbLand = (): void => {
    if (this.wbPending > 0) this.port.asOf(this.wbAt[this.wbHead]!, this.wbApply);
  };
  private readonly wbApply = (): void => {
    const i = this.wbHead;
    this.wbHead = (i + 1) % WRITE_BACK_SLOTS;
    this.wbPending--;
    if (this.wbEpoch[i] === this.epoch) this.complete(this.wbQueue[i]!, this.wbRing[i]!, this.wbFirst[i]!, this.wbEnd[i]!, this.wbCount[i]!);
  };

  /** For the last packet taken: when its doorbell reached the device, and when its bytes were in the buffer (cycles). */
  lastDoorbell = 0;
  lastFetched = 0;

  // Statistics: QPTC, GPTC, GOTC; packets refused (TSO, too long, no context for an offload).
  readonly qptc = new Float64Array(R.NIC_QUEUES);
  gptc = 0;
  gotc = 0;
  errors = 0;

  constructor(
    private readonly port: NicContext,
    readonly bitsPerSecond: number,
  ) {}

  reset(): void {
    this.epoch++;
    this.bellCount.fill(0);
    this.ctxValid.fill(0);
    this.qptc.fill(0);
    this.gptc = this.gotc = 0;
  }

  private psToCycles(ps: number): number {
    return (ps * this.port.machine.costs.clockHz) / PS_PER_SECOND;
  }

  private cyclesToPs(cycles: number): number {
    return Math.round((cycles * PS_PER_SECOND) / this.port.machine.costs.clockHz);
  }

  /** A tail write of queue `q` reached the device (now): its packets' fetches may start. */
  doorbell(q: number): void {
    const tail = this.port.regs[R.tdt(q) >>> 2]!;
    const base = q * DOORBELL_SLOTS;
    const n = this.bellCount[q]!;
    if (n === DOORBELL_SLOTS) {
      // Full: the newest doorbell takes this one's tail, so these packets count from its
      // (slightly earlier) arrival; the packets before keep theirs.
      this.bellTail[base + ((this.bellHead[q]! + n - 1) % DOORBELL_SLOTS)] = tail;
      this.kick();
      return;
    }
    const i = base + ((this.bellHead[q]! + n) % DOORBELL_SLOTS);
    this.bellTail[i] = tail;
    this.bellAt[i] = this.port.now();
    this.bellCount[q] = n + 1;
    this.kick();
  }

  /**
   * When the packet of queue `q` from descriptor `first` to `end` (exclusive) was posted: the
   * arrival of the first doorbell whose tail lies past its last descriptor. Doorbells it passes
   * are of packets already taken, and are forgotten.
   */
  private postedAt(q: number, first: number, end: number, count: number): number {
    const base = q * DOORBELL_SLOTS;
    const need = (end - first + count) % count || count;
    while (this.bellCount[q]! > 0) {
      const h = base + this.bellHead[q]!;
      const reach = (this.bellTail[h]! % count - first + count) % count;
      if (reach >= need) {
        const at = this.bellAt[h]!;
        if (reach === need) {
          // This packet ends at the doorbell's tail: nothing of it is left to take.
          this.bellHead[q] = (this.bellHead[q]! + 1) % DOORBELL_SLOTS;
          this.bellCount[q]--;
        }
        return at;
      }
      this.bellHead[q] = (this.bellHead[q]! + 1) % DOORBELL_SLOTS;
      this.bellCount[q]--;
    }
    return this.port.now();
  }

  /** A tail write: the MAC wakes when the wire is free, if some queue has a packet. */
  kick(): void {
    if (this.pending || !this.ready()) return;
    this.pending = true;
    this.wakeAt = Math.max(this.port.now(), this.psToCycles(this.wireFreePs));
    this.port.machine.schedule(this.wakeAt, this.wakeAction);
  }

  /** Whether some enabled queue has descriptors between head and tail. */
  private ready(): boolean {
    const regs = this.port.regs;
    for (let q = 0; q < R.NIC_QUEUES; q++) {
      if ((regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) continue;
      const count = (regs[R.tdlen(q) >>> 2]! & 0xf_ff80) / DESC;
      if (count > 0 && regs[R.tdh(q) >>> 2]! % count !== regs[R.tdt(q) >>> 2]! % count) return true;
    }
    return false;
  }

  /**
   * Sends the next packet of the next queue with one ready, round robin — first among the queues
   * whose next packet is already fetched (its doorbell came at least the fetches and the MAC's
   * pipeline ago), so that a packet still being fetched does not hold up one that is in.
   */
  private next(): void {
    const regs = this.port.regs;
    if ((regs[R.DMATXCTL >>> 2]! & R.DMATXCTL_TE) === 0) return;
    const lat = this.port.latency;
    const inBy = this.port.now() - 2 * lat.dmaRead - lat.macTx;
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < R.NIC_QUEUES; k++) {
        const q = (this.nextQueue + k) % R.NIC_QUEUES;
        if ((regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) continue;
        const count = (regs[R.tdlen(q) >>> 2]! & 0xf_ff80) / DESC;
        if (count === 0) continue;
        if (regs[R.tdh(q) >>> 2]! % count === regs[R.tdt(q) >>> 2]! % count) continue;
        if (pass === 0 && this.bellCount[q]! > 0 && this.bellAt[q * DOORBELL_SLOTS + this.bellHead[q]!]! > inBy) continue;
        if (this.packet(q, count)) {
          this.nextQueue = (q + 1) % R.NIC_QUEUES;
          return;
        }
      }
    }
  }

  /**
   * Takes descriptors of queue `q` from TDH up to the packet's EOP (context descriptors are
   * absorbed on the way). False if the tail ends before the packet does (the rest is not posted).
   */
  private packet(q: number, count: number): boolean {
    const { regs, dma } = this.port;
    const ring = regs[R.tdbah(q) >>> 2]! * 2 ** 32 + ((regs[R.tdbal(q) >>> 2]! & ~0x7f) >>> 0);
    const tail = regs[R.tdt(q) >>> 2]! % count;
    const first = regs[R.tdh(q) >>> 2]! % count;
    let index = first;
    let len = 0;
    let olinfo = 0;
    let ext = false;
    let eop = false;
    let bad = false;
    while (index !== tail && !eop) {
      const desc = ring + index * DESC;
      const lo = dma.read32(desc);
      const hi = dma.read32(desc + 4);
      const cmd = dma.read32(desc + 8);
      const d3 = dma.read32(desc + 12);
      index = (index + 1) % count;
      if ((cmd & R.TXD_CMD_DEXT) !== 0 && (cmd & R.TXD_DTYP_MASK) === R.TXD_DTYP_CTXT) {
        const slot = q * 2 + ((d3 >>> R.TXD_IDX_SHIFT) & 1);
        this.ctxMacIp[slot] = lo;
        this.ctxTucmd[slot] = cmd;
        this.ctxValid[slot] = 1;
        continue;
      }
      ext = (cmd & R.TXD_CMD_DEXT) !== 0;
      if (ext) olinfo = d3;
      if ((cmd & R.TXD_CMD_TSE) !== 0) bad = true; // segmentation offload is not modelled
      const n = cmd & R.TXD_DTALEN_MASK;
      if (len + n > MAX_TX_FRAME) bad = true;
      else dma.read(hi * 2 ** 32 + lo, n, this.frame, len);
      len += n;
      eop = (cmd & R.TXD_CMD_EOP) !== 0;
    }
    if (!eop) return false;
    if (bad || len < ETH_HEADER) {
      this.errors++;
      this.writeBack(q, ring, first, index, count, this.port.now());
      this.kick();
      return true;
    }
    if (ext) this.offloadChecksums(q, olinfo, len);
    if (len < ETH_MIN_FRAME - ETH_FCS) {
      // HLREG0.TXPADEN: short frames are padded with zeros (after the checksums).
      this.frame.fill(0, len, ETH_MIN_FRAME - ETH_FCS);
      len = ETH_MIN_FRAME - ETH_FCS;
    }
    // The descriptors are fetched once their doorbell has arrived (a read round trip), then the
    // buffer they name (another); the whole packet is in the buffer before it goes to the MAC
    // (store and forward), whose pipeline comes before the first bit. Fetches of packets posted
    // earlier overlap the frames on the wire, so back-to-back packets lose nothing to them.
    const lat = this.port.latency;
    const posted = this.postedAt(q, first, index, count);
    const fetched = posted + 2 * lat.dmaRead;
    this.lastDoorbell = posted;
    this.lastFetched = fetched;
    const startPs = Math.max(this.cyclesToPs(Math.max(this.port.now(), fetched + lat.macTx)), this.wireFreePs);
    const endPs = startPs + Math.round((wireBytes(len - ETH_HEADER) * 8 * PS_PER_SECOND) / this.bitsPerSecond);
    this.wireFreePs = endPs;
    const frame = this.frame.slice(0, len);
    const endCycles = this.psToCycles(endPs);
    // The frame's last bit leaves at `endPs`: then the wire has it, DD is written back, TDH
    // moves, and the MAC takes the next packet.
    this.pending = true;
    const epoch = this.epoch;
    this.port.machine.schedule(endCycles, () => {
      this.port.asOf(endCycles, () => {
        this.pending = false;
        if (epoch !== this.epoch) {
          // Reset while the frame was on the wire: it is cut off, and nothing is written back
          // into rings the reset forgot.
          this.kick();
          return;
        }
        this.onTransmit(frame, endPs);
        this.qptc[q]++;
        this.gptc++;
        this.gotc += len + ETH_FCS;
        this.writeBack(q, ring, first, index, count, endCycles);
        this.next();
      });
    });
    return true;
  }

  /**
   * The packet is done at clock `at`: TDH moves past it now (the device's own register), and its
   * write-back (DD) and interrupt cause cross the link and land one posted-write latency later.
   */
  private writeBack(q: number, ring: number, first: number, end: number, count: number, at: number): void {
    const lag = this.port.latency.postedWrite;
    if ((this.port.regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) !== 0) this.port.regs[R.tdh(q) >>> 2] = end;
    if (lag === 0) {
      this.complete(q, ring, first, end, count);
      return;
    }
    if (this.wbPending === WRITE_BACK_SLOTS) this.wbLand();
    const i = (this.wbHead + this.wbPending) % WRITE_BACK_SLOTS;
    this.wbQueue[i] = q;
    this.wbRing[i] = ring;
    this.wbFirst[i] = first;
    this.wbEnd[i] = end;
    this.wbCount[i] = count;
    this.wbEpoch[i] = this.epoch;
    this.wbAt[i] = at + lag;
    this.wbPending++;
    this.port.machine.schedule(at + lag, this.wbLand);
  }

  /** The write-back lands: DD in the packet's data descriptors that asked for it (RS), and the queue's cause. */
  private complete(q: number, ring: number, first: number, end: number, count: number): void {
    const dma = this.port.dma;
    // A queue switched off while its packet was on the wire: the ring may belong to nobody now.
    if ((this.port.regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) return;
    for (let i = first; i !== end; i = (i + 1) % count) {
      const desc = ring + i * DESC;
      const cmd = dma.read32(desc + 8);
      const context = (cmd & R.TXD_CMD_DEXT) !== 0 && (cmd & R.TXD_DTYP_MASK) === R.TXD_DTYP_CTXT;
      if ((cmd & R.TXD_CMD_RS) !== 0 && !context) dma.write32(desc + 12, dma.read32(desc + 12) | R.TXD_STAT_DD);
    }
    this.port.queueCause(q, 1);
  }

  /**
   * POPTS.IXSM / TXSM with the queue's context (MACLEN, IPLEN, L4 type): the IPv4 header
   * checksum is computed over the header as given (software leaves the field zero), the TCP or
   * UDP checksum over the L4 header and payload as given — software seeds the field with the
   * pseudo-header sum, as ixgbe's and DPDK's drivers do for the 82599 — and each stored
   * complemented.
   */
  private offloadChecksums(q: number, olinfo: number, len: number): void {
    if ((olinfo & (R.TXD_POPTS_IXSM | R.TXD_POPTS_TXSM)) === 0) return;
    const slot = q * 2 + ((olinfo >>> R.TXD_IDX_SHIFT) & 1);
    if (this.ctxValid[slot] === 0) {
      this.errors++;
      return;
    }
    const macip = this.ctxMacIp[slot]!;
    const tucmd = this.ctxTucmd[slot]!;
    const macLen = (macip >>> R.TXD_MACLEN_SHIFT) & 0x7f;
    const ipLen = macip & R.TXD_IPLEN_MASK;
    const f = this.frame;
    if ((olinfo & R.TXD_POPTS_IXSM) !== 0 && (tucmd & R.TXD_TUCMD_IPV4) !== 0 && macLen + ipLen <= len) {
      const c = ~onesComplementSum(f, macLen, ipLen) & 0xffff;
      f[macLen + 10] = c >>> 8;
      f[macLen + 11] = c & 0xff;
    }
    const l4 = macLen + ipLen;
    if ((olinfo & R.TXD_POPTS_TXSM) !== 0) {
      const l4t = tucmd & R.TXD_TUCMD_L4T_MASK;
      const at = l4t === R.TXD_TUCMD_L4T_TCP ? l4 + 16 : l4t === R.TXD_TUCMD_L4T_UDP ? l4 + 6 : -1;
      if (at < 0 || at + 2 > len) return;
      let c = ~onesComplementSum(f, l4, len - l4) & 0xffff;
      if (c === 0 && l4t === R.TXD_TUCMD_L4T_UDP) c = 0xffff; // UDP sends a zero sum as all ones
      f[at] = c >>> 8;
      f[at + 1] = c & 0xff;
    }
  }
}
