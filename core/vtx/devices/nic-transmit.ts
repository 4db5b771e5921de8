import { ETH_FCS, ETH_HEADER, ETH_MIN_FRAME, wireBytes } from './ethernet-wire.js';
import { DESCRIPTOR_BYTES as DESC, NicContext } from './nic-context.js';
import * as NicRegisters from './nic-registers.js';
import { onesComplementSum } from './packet-headers.js';

// A plain copy: a module namespace compiled to CommonJS (tsx) reads every export through a getter.
const R = { ...NicRegisters };

const PS_PER_SECOND = 1e12;
/** Largest frame the transmit path assembles (the 82599's jumbo limit is 15.5 KB). */
const MAX_TX_FRAME = 15_872;

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

  /** Sends the next packet of the next queue with one ready. */
  private next(): void {
    const regs = this.port.regs;
    if ((regs[R.DMATXCTL >>> 2]! & R.DMATXCTL_TE) === 0) return;
    for (let k = 0; k < R.NIC_QUEUES; k++) {
      const q = (this.nextQueue + k) % R.NIC_QUEUES;
      if ((regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) continue;
      const count = (regs[R.tdlen(q) >>> 2]! & 0xf_ff80) / DESC;
      if (count === 0) continue;
      if (regs[R.tdh(q) >>> 2]! % count === regs[R.tdt(q) >>> 2]! % count) continue;
      if (this.packet(q, count)) {
        this.nextQueue = (q + 1) % R.NIC_QUEUES;
        return;
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
      this.complete(q, ring, first, index, count);
      this.kick();
      return true;
    }
    if (ext) this.offloadChecksums(q, olinfo, len);
    if (len < ETH_MIN_FRAME - ETH_FCS) {
      // HLREG0.TXPADEN: short frames are padded with zeros (after the checksums).
      this.frame.fill(0, len, ETH_MIN_FRAME - ETH_FCS);
      len = ETH_MIN_FRAME - ETH_FCS;
    }
    const startPs = Math.max(this.cyclesToPs(this.port.now()), this.wireFreePs);
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
        this.complete(q, ring, first, index, count);
        this.next();
      });
    });
    return true;
  }

  /** Write-back: DD into the packet's data descriptors that asked for it (RS); TDH moves on. */
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
    this.port.regs[R.tdh(q) >>> 2] = end;
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
