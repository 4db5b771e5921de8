import type { Machine } from '../machine.js';
import type { MmioDevice } from './bus.js';
import { ETH_FCS, ETH_HEADER, ETH_MIN_FRAME, wireBytes } from './ethernet-wire.js';
import { MsiTarget, MsixTable } from './msix-table.js';
import * as NicRegisters from './nic-registers.js';
import { IPPROTO_TCP, IPPROTO_UDP, PacketHeaders, onesComplementSum, pseudoHeaderSum } from './packet-headers.js';
import { ToeplitzHash } from './toeplitz-hash.js';

export interface Nic82599Config {
  /** Line rate in bits per second (an 82599 port runs at 10 Gb/s). */
  bitsPerSecond?: number;
  /** The port's MAC address, as the EEPROM loads it into RAL(0)/RAH(0). */
  mac?: Uint8Array;
  /** Bytes of the receive packet buffer that holds frames waiting for descriptors (RXPBSIZE(0)). */
  rxPacketBuffer?: number;
  name?: string;
}

/** The wire side of a port: frames leave through it. */
export type TransmitCallback = (frame: Uint8Array, endPs: number) => void;

// A plain copy of the register map: module namespaces compiled to CommonJS (tsx) read every
// export through a getter, which showed as a sixth of the receive path's time.
const R = { ...NicRegisters };

const PS_PER_SECOND = 1e12;
/** Largest frame the transmit path assembles (the 82599's jumbo limit is 15.5 KB). */
const MAX_TX_FRAME = 15_872;
const DESC = 16;

const enum Kind {
  Unmodelled = 0,
  Plain = 1,
  Special = 2,
}

/**
 * One port of an Intel 82599 10 GbE controller, as ixgbe and IX drive it: descriptor rings in
 * RAM with head and tail registers, advanced descriptors, RSS over up to 16 queue pairs, MSI-X
 * interrupts with EITR throttling, checksum offload, and a MAC that serialises frames at the line
 * rate on the machine's clock. Registers are BAR0 (`map`), the MSI-X table BAR3.
 *
 * The device is a bus master: it reads and writes descriptors and buffers in RAM itself (DMA), at
 * no cost to any CPU. A DMA address outside RAM is a master abort (reads all ones, writes lost,
 * `dmaAborts` counts them): a driver's bad ring address never reaches another device's registers.
 */
export class Nic82599 implements MmioDevice, MsiTarget {
  readonly name: string;
  readonly msix: MsixTable;
  readonly bitsPerSecond: number;
  /** Frames leave here, at the picosecond their last bit is on the wire. */
  onTransmit: TransmitCallback = () => {};

  private readonly regs = new Uint32Array(R.NIC_BAR0_SIZE / 4);
  private readonly kind = new Uint8Array(R.NIC_BAR0_SIZE / 4);
  private readonly mac: Uint8Array;
  private readonly headers = new PacketHeaders();
  private readonly rssKey = new Uint8Array(40);
  private rss: ToeplitzHash | undefined;
  private rssDirty = true;

  // Statistics (cleared when software reads them).
  private readonly qprcCount = new Float64Array(R.NIC_QUEUES);
  private readonly qprdcCount = new Float64Array(R.NIC_QUEUES);
  private readonly qptcCount = new Float64Array(R.NIC_QUEUES);
  private gprc = 0;
  private gptc = 0;
  private gorc = 0;
  private gotc = 0;
  private mpcCount = 0;
  /** DMA reads and writes outside RAM (master aborts); frames the address filter refused. */
  dmaAborts = 0;
  filtered = 0;
  /** Frames dropped because receive was off or their queue disabled; TX packets refused (TSO, too long). */
  rxDisabledDrops = 0;
  txErrors = 0;
  /** Interrupt messages the device sent, per vector (tests and traces). */
  readonly interrupts = new Float64Array(R.NIC_VECTORS);

  // The receive packet buffer: frames waiting for a descriptor (SRRCTL.DROP_EN clear), in order.
  private readonly rxFifo: Uint8Array[] = [];
  private readonly rxFifoQueue: number[] = [];
  private rxFifoBytes = 0;
  private readonly rxPacketBuffer: number;

  // Interrupt throttling: per vector, when the next message may be sent, and an armed timer.
  private readonly nextAllowed = new Float64Array(R.NIC_VECTORS);
  private readonly timerArmed = new Uint8Array(R.NIC_VECTORS);
  private readonly timerActions: Array<() => void> = [];

  // Transmit: one MAC, queues served round robin; the wire is busy until `wireFreePs`.
  private readonly txFrame = new Uint8Array(MAX_TX_FRAME);
  private readonly txCtxMacIp = new Uint32Array(R.NIC_QUEUES * 2);
  private readonly txCtxTucmd = new Uint32Array(R.NIC_QUEUES * 2);
  private readonly txCtxValid = new Uint8Array(R.NIC_QUEUES * 2);
  private wireFreePs = 0;
  private txPending = false;
  private txNextQueue = 0;
  private txEventAt = 0;
  private readonly txAction = (): void => this.txEvent();
  /** The clock of the device event being handled, or -1 outside events. */
  private eventClock = -1;
  /** Resets so far: a frame on the wire across a reset is cut off. */
  private epoch = 0;

  constructor(
    private readonly machine: Machine,
    config: Nic82599Config = {},
  ) {
    this.name = config.name ?? '82599';
    this.bitsPerSecond = config.bitsPerSecond ?? 10e9;
    if (!(this.bitsPerSecond > 0)) throw new RangeError(`${this.name}: line rate ${config.bitsPerSecond} b/s`);
    this.mac = config.mac ?? Uint8Array.from([0x00, 0x1b, 0x21, 0x00, 0x00, 0x01]);
    if (this.mac.length !== 6) throw new RangeError(`${this.name}: a MAC address has 6 bytes, got ${this.mac.length}`);
    this.rxPacketBuffer = config.rxPacketBuffer ?? 512 * 1024;
    this.msix = new MsixTable(this.name, this);
    const plain = (off: number): void => void (this.kind[off >>> 2] = Kind.Plain);
    const special = (off: number): void => void (this.kind[off >>> 2] = Kind.Special);
    for (const off of [R.CTRL, R.STATUS, R.LINKS, R.EICR, R.EICS, R.EIMS, R.EIMC, R.RDRXCTL, R.GPRC, R.GPTC, R.GORCL, R.GORCH, R.GOTCL, R.GOTCH]) special(off);
    for (const off of [R.CTRL_EXT, R.EIAC, R.EIAM, R.GPIE, R.RXCTRL, R.RXCSUM, R.FCTRL, R.MRQC, R.HLREG0, R.DMATXCTL, R.ral(0), R.rah(0)]) plain(off);
    for (let v = 0; v < R.NIC_VECTORS; v++) {
      plain(R.eitr(v));
      this.timerActions.push(() => {
        this.timerArmed[v] = 0;
        this.eventClock = this.nextAllowed[v]!;
        try {
          this.tryInterrupt(v);
        } finally {
          this.eventClock = -1;
        }
      });
    }
    for (let n = 0; n < R.NIC_QUEUES / 2; n++) plain(R.ivar(n));
    for (let n = 0; n < 32; n++) plain(R.reta(n));
    for (let n = 0; n < 10; n++) special(R.rssrk(n));
    special(R.mpc(0));
    for (let q = 0; q < R.NIC_QUEUES; q++) {
      for (const off of [R.rdbal(q), R.rdbah(q), R.rdlen(q), R.rdh(q), R.srrctl(q), R.rxdctl(q), R.tdbal(q), R.tdbah(q), R.tdlen(q), R.tdh(q), R.txdctl(q)]) plain(off);
      for (const off of [R.rdt(q), R.tdt(q), R.qprc(q), R.qprdc(q), R.qptc(q)]) special(off);
    }
    this.reset();
  }

  /** Claims BAR0 (registers) and BAR3 (MSI-X) on the machine's MMIO bus. */
  map(bar0: number, msixBar: number): void {
    this.machine.mmio.map(bar0, R.NIC_BAR0_SIZE, this);
    this.machine.mmio.map(msixBar, R.NIC_MSIX_BAR_SIZE, this.msix);
  }

  /** CTRL.RST, and power-on: registers to their defaults, rings and pending frames forgotten. */
  reset(): void {
    this.epoch++;
    this.regs.fill(0);
    const m = this.mac;
    this.regs[R.ral(0) >>> 2] = (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0;
    this.regs[R.rah(0) >>> 2] = (m[4]! | (m[5]! << 8) | R.RAH_AV) >>> 0;
    this.regs[R.HLREG0 >>> 2] = 0x2ff1; // TXCRCEN, RXCRCSTRP, TXPADEN, … (datasheet default)
    for (let q = 0; q < R.NIC_QUEUES; q++) this.regs[R.srrctl(q) >>> 2] = 2 | (4 << 8); // 2 KiB buffers
    this.qprcCount.fill(0);
    this.qprdcCount.fill(0);
    this.qptcCount.fill(0);
    this.gprc = this.gptc = this.gorc = this.gotc = this.mpcCount = 0;
    this.rxFifo.length = 0;
    this.rxFifoQueue.length = 0;
    this.rxFifoBytes = 0;
    this.txCtxValid.fill(0);
    this.rssDirty = true;
    this.msix.reset();
  }

  // ------------------------------------------------------------------------------------------
  // Time.

  /** The device's present on the machine clock: the event being handled, or the CPU that touched it. */
  private now(): number {
    if (this.eventClock >= 0) return this.eventClock;
    const r = this.machine.running;
    if (r !== undefined) return r.cycles;
    // Called from outside the machine's run (a test, a host-side driver): the slowest CPU that is
    // not halted is the machine's present, as for device events; with all halted, the latest.
    let min = Infinity;
    let max = 0;
    for (const c of this.machine.cpus) {
      if (!c.halted && c.cycles < min) min = c.cycles;
      if (c.cycles > max) max = c.cycles;
    }
    return min === Infinity ? max : min;
  }

  private cyclesToPs(cycles: number): number {
    return Math.round((cycles * PS_PER_SECOND) / this.machine.costs.clockHz);
  }

  private psToCycles(ps: number): number {
    return (ps * this.machine.costs.clockHz) / PS_PER_SECOND;
  }

  // ------------------------------------------------------------------------------------------
  // Registers.

  /** The register an alias offset names (the 82598-compatible locations ixgbe uses for low indices). */
  private static canonical(offset: number): number {
    if (offset >= R.SRRCTL_ALIAS && offset < R.SRRCTL_ALIAS + 4 * R.NIC_QUEUES) return R.srrctl((offset - R.SRRCTL_ALIAS) >>> 2) + (offset & 3);
    if (offset >= R.RAL_ALIAS && offset < R.RAL_ALIAS + 8 * 16) return offset - R.RAL_ALIAS + R.ral(0);
    return offset;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    const v = this.readDword(Nic82599.canonical(offset) & ~3);
    if (size === 4) return v;
    return (v >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    // The 82599's registers take 32-bit accesses only (datasheet §8.1): narrower writes are ignored.
    if (size !== 4 || (offset & 3) !== 0) return;
    offset = Nic82599.canonical(offset);
    const i = offset >>> 2;
    const k = this.kind[i]!;
    if (k === Kind.Unmodelled) return;
    if (k === Kind.Plain) {
      this.regs[i] = value;
      return;
    }
    this.writeSpecial(offset, value >>> 0);
  }

  private readDword(offset: number): number {
    const i = offset >>> 2;
    const k = this.kind[i]!;
    if (k === Kind.Unmodelled) return 0;
    if (k === Kind.Plain) return this.regs[i]!;
    switch (offset) {
      case R.CTRL:
        return this.regs[i]!;
      case R.STATUS:
        return 0; // LAN ID 0, no master-disable pending; the link state is in LINKS
      case R.LINKS:
        return R.LINKS_UP | R.LINKS_SPEED_10G;
      case R.RDRXCTL:
        return R.RDRXCTL_DMAIDONE; // DMA initialisation is instantaneous here
      case R.EICR:
      case R.EIMS:
        return this.regs[i]!;
      case R.EICS:
      case R.EIMC:
        return 0;
      // Statistics are cleared by the read; a 64-bit octet count by the read of its high half.
      case R.GPRC: {
        const v = this.gprc;
        this.gprc = 0;
        return v >>> 0;
      }
      case R.GPTC: {
        const v = this.gptc;
        this.gptc = 0;
        return v >>> 0;
      }
      case R.GORCL:
        return this.gorc % 2 ** 32;
      case R.GORCH: {
        const v = Math.floor(this.gorc / 2 ** 32);
        this.gorc = 0;
        return v >>> 0;
      }
      case R.GOTCL:
        return this.gotc % 2 ** 32;
      case R.GOTCH: {
        const v = Math.floor(this.gotc / 2 ** 32);
        this.gotc = 0;
        return v >>> 0;
      }
      case R.mpc(0): {
        const v = this.mpcCount;
        this.mpcCount = 0;
        return v >>> 0;
      }
    }
    if (offset >= R.rssrk(0) && offset < R.rssrk(10)) return this.regs[i]!;
    const q = (offset & 0x3ff) >>> 6;
    const reg = offset & ~0x3c0;
    if (reg === R.rdt(0) || reg === R.tdt(0)) return this.regs[i]!;
    if (reg === R.qprc(0)) return takeCount(this.qprcCount, q);
    if (reg === R.qprdc(0)) return takeCount(this.qprdcCount, q);
    if (reg === R.qptc(0)) return takeCount(this.qptcCount, q);
    return 0;
  }

  private writeSpecial(offset: number, value: number): void {
    const i = offset >>> 2;
    switch (offset) {
      case R.CTRL:
        if ((value & R.CTRL_RST) !== 0) this.reset(); // self-clearing
        else this.regs[i] = value;
        return;
      case R.EICR: // write 1 to clear
        this.regs[i] = (this.regs[i]! & ~value) >>> 0;
        return;
      case R.EICS: // software-raised causes
        for (let v = 0; v < R.NIC_VECTORS; v++) if ((value >>> v) & 1) this.cause(v);
        return;
      case R.EIMS: {
        const was = this.regs[i]!;
        this.regs[i] = (was | value) & 0xffff;
        // Unmasking a vector whose cause is pending interrupts now (NAPI re-enabling after a poll).
        for (let v = 0; v < R.NIC_VECTORS; v++) if (((value & ~was) >>> v) & 1) this.tryInterrupt(v);
        return;
      }
      case R.EIMC:
        this.regs[R.EIMS >>> 2] = (this.regs[R.EIMS >>> 2]! & ~value) >>> 0;
        return;
    }
    if (offset >= R.rssrk(0) && offset < R.rssrk(10)) {
      this.regs[i] = value;
      this.rssDirty = true;
      return;
    }
    const reg = offset & ~0x3c0;
    if (reg === R.rdt(0) && offset < 0x1400) {
      this.regs[i] = value & 0xffff;
      this.drainRxFifo();
    } else if (reg === R.tdt(0) && offset < 0x6400) {
      this.regs[i] = value & 0xffff;
      this.kickTransmit();
    }
    // Writes to statistics registers are ignored (they are read-only).
  }

  // ------------------------------------------------------------------------------------------
  // Interrupts: a cause sets its vector's EICR bit; the vector's message is sent when EIMS enables
  // it and EITR's interval since its last message has passed (at most one message per interval).

  /** The vector IVAR assigns to RX (tx = 0) or TX (tx = 1) queue `q`, or -1 when not valid. */
  private vectorOf(q: number, tx: number): number {
    const b = (this.regs[R.ivar(q >>> 1) >>> 2]! >>> (((q & 1) * 2 + tx) * 8)) & 0xff;
    if ((b & R.IVAR_ALLOC_VAL) === 0) return -1;
    const v = b & 0x3f;
    return v < R.NIC_VECTORS ? v : -1;
  }

  private cause(v: number): void {
    this.regs[R.EICR >>> 2] = (this.regs[R.EICR >>> 2]! | (1 << v)) >>> 0;
    this.tryInterrupt(v);
  }

  private tryInterrupt(v: number): void {
    const bit = 1 << v;
    if ((this.regs[R.EICR >>> 2]! & this.regs[R.EIMS >>> 2]! & bit) === 0) return;
    if ((this.regs[R.GPIE >>> 2]! & R.GPIE_MSIX_MODE) === 0) return; // only MSI-X is modelled
    if (this.timerArmed[v] === 1) return;
    const now = this.now();
    if (now < this.nextAllowed[v]!) {
      this.timerArmed[v] = 1;
      this.machine.schedule(this.nextAllowed[v]!, this.timerActions[v]!);
      return;
    }
    const interval = ((this.regs[R.eitr(v) >>> 2]! & R.EITR_INTERVAL_MASK) >>> 3) * R.EITR_UNIT_US;
    this.nextAllowed[v] = now + interval * 1e-6 * this.machine.costs.clockHz;
    if ((this.regs[R.EIAC >>> 2]! & bit) !== 0) this.regs[R.EICR >>> 2] = (this.regs[R.EICR >>> 2]! & ~bit) >>> 0;
    this.interrupts[v]++;
    this.msix.signal(v);
  }

  deliverMsi(apicId: number, vector: number): boolean {
    const cpu = this.machine.cpus[apicId];
    if (cpu === undefined) return false;
    cpu.interrupt(vector);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // DMA: RAM only; anything else is a master abort.

  private dmaRead32(pa: number): number {
    const mem = this.machine.mem;
    if ((pa & 3) === 0 && pa >= 0 && pa + 4 <= mem.size) return mem.u32[pa >>> 2]!;
    this.dmaAborts++;
    return 0xffff_ffff;
  }

  private dmaWrite32(pa: number, v: number): void {
    const mem = this.machine.mem;
    if ((pa & 3) === 0 && pa >= 0 && pa + 4 <= mem.size) {
      mem.u32[pa >>> 2] = v;
      mem.hostWriteHook?.(pa, 4);
    } else this.dmaAborts++;
  }

  private ringBase(lo: number, hi: number): number {
    return this.regs[hi >>> 2]! * 2 ** 32 + ((this.regs[lo >>> 2]! & ~0x7f) >>> 0); // 128-byte aligned
  }

  // ------------------------------------------------------------------------------------------
  // Receive.

  /**
   * A frame arrives from the wire at machine clock `at` (without its FCS, which the MAC checked
   * and stripped): the frame is filtered by destination address, parsed, steered by RSS to a
   * queue and DMA'd into the queue's next descriptors; or it waits in the packet buffer for
   * descriptors, or is dropped and counted. The frame is copied if it has to wait.
   */
  receiveAt(at: number, frame: Uint8Array): void {
    this.machine.schedule(at, () => {
      this.eventClock = at;
      try {
        this.receive(frame);
      } finally {
        this.eventClock = -1;
      }
    });
  }

  /** A frame arrives now (see `receiveAt`). */
  receive(frame: Uint8Array): void {
    const regs = this.regs;
    if ((regs[R.RXCTRL >>> 2]! & R.RXCTRL_RXEN) === 0) {
      this.rxDisabledDrops++;
      return;
    }
    if (!this.accepts(frame)) {
      this.filtered++;
      return;
    }
    const q = this.steer(frame);
    // One packet buffer, in order: while frames wait in it, a new one queues behind them. A queue
    // with SRRCTL.DROP_EN never waits: without a descriptor its frame is dropped and counted.
    const dropEn = (regs[R.srrctl(q) >>> 2]! & R.SRRCTL_DROP_EN) !== 0;
    if (this.rxFifo.length === 0 || dropEn) {
      if (this.place(frame, q, false)) return;
      if (dropEn) {
        if ((regs[R.rxdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) this.rxDisabledDrops++;
        else this.qprdcCount[q]++;
        return;
      }
    }
    if (this.rxFifoBytes + frame.length > this.rxPacketBuffer) {
      this.mpcCount++;
      return;
    }
    this.rxFifo.push(frame.slice());
    this.rxFifoQueue.push(q);
    this.rxFifoBytes += frame.length;
  }

  /** Destination-address filtering (RAL/RAH(0), FCTRL's promiscuous and broadcast bits). */
  private accepts(f: Uint8Array): boolean {
    if (f.length < ETH_HEADER) return false;
    const fctrl = this.regs[R.FCTRL >>> 2]!;
    const broadcast = (f[0]! & f[1]! & f[2]! & f[3]! & f[4]! & f[5]!) === 0xff;
    if (broadcast) return (fctrl & R.FCTRL_BAM) !== 0;
    if ((f[0]! & 1) !== 0) return (fctrl & R.FCTRL_MPE) !== 0;
    if ((fctrl & R.FCTRL_UPE) !== 0) return true;
    const lo = this.regs[R.ral(0) >>> 2]!;
    const hi = this.regs[R.rah(0) >>> 2]!;
    if ((hi & R.RAH_AV) === 0) return false;
    return (
      f[0] === (lo & 0xff) && f[1] === ((lo >>> 8) & 0xff) && f[2] === ((lo >>> 16) & 0xff) && f[3] === lo >>> 24 &&
      f[4] === (hi & 0xff) && f[5] === ((hi >>> 8) & 0xff)
    );
  }

  // Results of `steer` for the write-back.
  private rxHash = 0;
  private rxRssType = 0;

  /** Parses the frame and picks its queue: RSS through RETA, or queue 0. */
  private steer(frame: Uint8Array): number {
    const h = this.headers.parse(frame, frame.length);
    const mrqc = this.regs[R.MRQC >>> 2]!;
    this.rxHash = 0;
    this.rxRssType = R.RSSTYPE_NONE;
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
    return (this.regs[R.reta(entry >>> 2) >>> 2]! >>> ((entry & 3) * 8)) & 0xf;
  }

  private rssHash(): ToeplitzHash {
    if (this.rssDirty || this.rss === undefined) {
      for (let n = 0; n < 10; n++) {
        const w = this.regs[R.rssrk(n) >>> 2]!;
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
   * DMA's a frame into queue `q`'s descriptors from RDH, writes them back and advances RDH.
   * False when the queue is disabled or has too few descriptors (RDH to RDT-1) for the frame.
   */
  private place(frame: Uint8Array, q: number, fromBuffer: boolean): boolean {
    const regs = this.regs;
    if ((regs[R.rxdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) return false;
    const count = (regs[R.rdlen(q) >>> 2]! & 0xf_ff80) / DESC;
    if (count === 0) return false;
    const head = regs[R.rdh(q) >>> 2]! % count;
    const tail = regs[R.rdt(q) >>> 2]! % count;
    const available = (tail - head + count) % count;
    const srrctl = regs[R.srrctl(q) >>> 2]!;
    const bufSize = ((srrctl & R.SRRCTL_BSIZEPKT_MASK) || 2) * 1024;
    const len = frame.length;
    const needed = Math.max(1, Math.ceil(len / bufSize));
    if (available < needed) return false;
    if (fromBuffer) this.steer(frame); // a frame that waited: parse and hash it again for its write-back
    const h = this.headers;
    // Write-back fields (§7.1.6.2).
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
    const ring = this.ringBase(R.rdbal(q), R.rdbah(q));
    const mem = this.machine.mem;
    let at = 0;
    let index = head;
    for (let d = 0; d < needed; d++) {
      const desc = ring + index * DESC;
      const buf = this.dmaRead32(desc + 4) * 2 ** 32 + this.dmaRead32(desc);
      const n = Math.min(bufSize, len - at);
      if (buf >= 0 && buf + n <= mem.size) mem.writeBytes(buf, at === 0 && n === len ? frame : frame.subarray(at, at + n));
      else this.dmaAborts++;
      at += n;
      const last = d === needed - 1;
      this.dmaWrite32(desc, this.rxRssType | pktType);
      this.dmaWrite32(desc + 4, pcsd ? this.rxHash : 0);
      this.dmaWrite32(desc + 8, ((last ? status | R.RXD_STAT_EOP : 0) | R.RXD_STAT_DD) >>> 0);
      this.dmaWrite32(desc + 12, n);
      index = (index + 1) % count;
    }
    regs[R.rdh(q) >>> 2] = index;
    this.qprcCount[q]++;
    this.gprc++;
    this.gorc += len + ETH_FCS; // octets counted with the CRC
    const v = this.vectorOf(q, 0);
    if (v >= 0) this.cause(v);
    return true;
  }

  /** After a tail write: frames waiting in the packet buffer go to their queues, in order. */
  private drainRxFifo(): void {
    while (this.rxFifo.length > 0) {
      const frame = this.rxFifo[0]!;
      const q = this.rxFifoQueue[0]!;
      const enabled = (this.regs[R.rxdctl(q) >>> 2]! & R.XDCTL_ENABLE) !== 0;
      if (enabled && !this.place(frame, q, true)) return;
      if (!enabled) this.rxDisabledDrops++; // a queue switched off discards what waits for it
      this.rxFifo.shift();
      this.rxFifoQueue.shift();
      this.rxFifoBytes -= frame.length;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Transmit: the MAC takes one packet at a time from the queues (round robin), reads its
  // descriptors and buffers, inserts checksums, and puts it on the wire after the previous one.

  private kickTransmit(): void {
    if (this.txPending || !this.transmitReady()) return;
    this.txPending = true;
    const at = Math.max(this.now(), this.psToCycles(this.wireFreePs));
    this.txEventAt = at;
    this.machine.schedule(at, this.txAction);
  }

  /** Whether some enabled queue has descriptors between head and tail. */
  private transmitReady(): boolean {
    const regs = this.regs;
    for (let q = 0; q < R.NIC_QUEUES; q++) {
      if ((regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) continue;
      const count = (regs[R.tdlen(q) >>> 2]! & 0xf_ff80) / DESC;
      if (count > 0 && regs[R.tdh(q) >>> 2]! % count !== regs[R.tdt(q) >>> 2]! % count) return true;
    }
    return false;
  }

  private txEvent(): void {
    this.txPending = false;
    this.eventClock = this.txEventAt;
    try {
      this.transmitNext();
    } finally {
      this.eventClock = -1;
    }
  }

  /** Sends the next packet of the next queue with one ready; schedules the one after it. */
  private transmitNext(): void {
    const regs = this.regs;
    if ((regs[R.DMATXCTL >>> 2]! & R.DMATXCTL_TE) === 0) return;
    for (let k = 0; k < R.NIC_QUEUES; k++) {
      const q = (this.txNextQueue + k) % R.NIC_QUEUES;
      if ((regs[R.txdctl(q) >>> 2]! & R.XDCTL_ENABLE) === 0) continue;
      const count = (regs[R.tdlen(q) >>> 2]! & 0xf_ff80) / DESC;
      if (count === 0) continue;
      if (regs[R.tdh(q) >>> 2]! % count === regs[R.tdt(q) >>> 2]! % count) continue;
      if (this.transmitPacket(q, count)) {
        this.txNextQueue = (q + 1) % R.NIC_QUEUES;
        return;
      }
    }
  }

  /**
   * Takes descriptors of queue `q` from TDH up to the packet's EOP (context descriptors are
   * absorbed on the way). False if the tail ends before the packet does (the rest is not posted).
   */
  private transmitPacket(q: number, count: number): boolean {
    const regs = this.regs;
    const ring = this.ringBase(R.tdbal(q), R.tdbah(q));
    const tail = regs[R.tdt(q) >>> 2]! % count;
    const first = regs[R.tdh(q) >>> 2]! % count;
    const mem = this.machine.mem;
    let index = first;
    let len = 0;
    let olinfo = 0;
    let ext = false;
    let eop = false;
    let bad = false;
    while (index !== tail && !eop) {
      const desc = ring + index * DESC;
      const lo = this.dmaRead32(desc);
      const hi = this.dmaRead32(desc + 4);
      const cmd = this.dmaRead32(desc + 8);
      const d3 = this.dmaRead32(desc + 12);
      index = (index + 1) % count;
      if ((cmd & R.TXD_CMD_DEXT) !== 0 && (cmd & R.TXD_DTYP_MASK) === R.TXD_DTYP_CTXT) {
        const slot = q * 2 + ((d3 >>> R.TXD_IDX_SHIFT) & 1);
        this.txCtxMacIp[slot] = lo;
        this.txCtxTucmd[slot] = cmd;
        this.txCtxValid[slot] = 1;
        continue;
      }
      ext = (cmd & R.TXD_CMD_DEXT) !== 0;
      if (ext) olinfo = d3;
      if ((cmd & R.TXD_CMD_TSE) !== 0) bad = true; // segmentation offload is not modelled
      const n = cmd & R.TXD_DTALEN_MASK;
      const buf = hi * 2 ** 32 + lo;
      if (len + n > MAX_TX_FRAME) bad = true;
      else if (buf >= 0 && buf + n <= mem.size) this.txFrame.set(mem.u8.subarray(buf, buf + n), len);
      else {
        this.dmaAborts++;
        this.txFrame.fill(0xff, len, len + n); // a master-aborted read returns all ones
      }
      len += n;
      eop = (cmd & R.TXD_CMD_EOP) !== 0;
    }
    if (!eop) return false; // the rest of the packet is not posted yet
    if (bad || len < ETH_HEADER) {
      this.txErrors++;
      this.completeTx(q, ring, first, index, count, 0, -1);
      this.kickTransmit();
      return true;
    }
    if (ext) this.offloadChecksums(q, olinfo, len);
    if (len < ETH_MIN_FRAME - ETH_FCS) {
      // HLREG0.TXPADEN: short frames are padded with zeros (after the checksums).
      this.txFrame.fill(0, len, ETH_MIN_FRAME - ETH_FCS);
      len = ETH_MIN_FRAME - ETH_FCS;
    }
    const startPs = Math.max(this.cyclesToPs(this.now()), this.wireFreePs);
    const wire = wireBytes(len - ETH_HEADER);
    const endPs = startPs + Math.round((wire * 8 * PS_PER_SECOND) / this.bitsPerSecond);
    this.wireFreePs = endPs;
    const frame = this.txFrame.slice(0, len);
    const endCycles = this.psToCycles(endPs);
    // The frame's last bit leaves at `endPs`: then the wire has it, DD is written back, TDH
    // moves, and the MAC takes the next packet.
    this.txPending = true;
    const epoch = this.epoch;
    this.machine.schedule(endCycles, () => {
      this.eventClock = endCycles;
      try {
        if (epoch === this.epoch) {
          this.completeTx(q, ring, first, index, count, len, endPs, frame);
          this.transmitNext();
        } else {
          // Reset while the frame was on the wire: it is cut off, and nothing is written back
          // into rings the reset forgot.
          this.txPending = false;
          this.kickTransmit();
        }
      } finally {
        this.eventClock = -1;
      }
    });
    return true;
  }

  private completeTx(q: number, ring: number, first: number, end: number, count: number, len: number, endPs: number, frame?: Uint8Array): void {
    if (frame !== undefined) {
      this.onTransmit(frame, endPs);
      this.qptcCount[q]++;
      this.gptc++;
      this.gotc += len + ETH_FCS;
    }
    for (let i = first; i !== end; i = (i + 1) % count) {
      const desc = ring + i * DESC;
      const cmd = this.dmaRead32(desc + 8);
      if ((cmd & R.TXD_CMD_RS) !== 0 && !((cmd & R.TXD_CMD_DEXT) !== 0 && (cmd & R.TXD_DTYP_MASK) === R.TXD_DTYP_CTXT)) {
        this.dmaWrite32(desc + 12, this.dmaRead32(desc + 12) | R.TXD_STAT_DD);
      }
    }
    this.regs[R.tdh(q) >>> 2] = end;
    this.txPending = false;
    const v = this.vectorOf(q, 1);
    if (v >= 0) this.cause(v);
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
    if (this.txCtxValid[slot] === 0) {
      this.txErrors++;
      return;
    }
    const macip = this.txCtxMacIp[slot]!;
    const tucmd = this.txCtxTucmd[slot]!;
    const macLen = macip >>> R.TXD_MACLEN_SHIFT & 0x7f;
    const ipLen = macip & R.TXD_IPLEN_MASK;
    const f = this.txFrame;
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

/** Reads and clears a per-queue statistics counter. */
function takeCount(counts: Float64Array, q: number): number {
  const v = counts[q]!;
  counts[q] = 0;
  return v >>> 0;
}
