import type { Machine } from '../machine.js';
import type { MmioDevice } from './bus.js';
import { BusMasterDma } from './bus-master-dma.js';
import { MsiTarget, MsixTable } from './msix-table.js';
import type { NicContext } from './nic-context.js';
import { NicReceive } from './nic-receive.js';
import * as NicRegisters from './nic-registers.js';
import { NicTransmit, TransmitCallback } from './nic-transmit.js';
import { PcieLatency, pcieLatencyOf } from './pcie-latency.js';

export type { TransmitCallback } from './nic-transmit.js';

export interface Nic82599Config {
  /** Line rate in bits per second (an 82599 port runs at 10 Gb/s). */
  bitsPerSecond?: number;
  /** The port's MAC address, as the EEPROM loads it into RAL(0)/RAH(0). */
  mac?: Uint8Array;
  /** Bytes of the receive packet buffer that holds frames waiting for descriptors (RXPBSIZE(0)). */
  rxPacketBuffer?: number;
  name?: string;
  /** The I/O path's latencies in cycles (default: the machine's cost profile's). */
  latency?: PcieLatency;
}

/** Register writes that may be in flight on the link at once; more land at once, oldest first. */
const POSTED_SLOTS = 64;

// A plain copy of the register map: module namespaces compiled to CommonJS (tsx) read every
// export through a getter, which showed as a sixth of the receive path's time.
const R = { ...NicRegisters };


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
 * This class is the register file, the device's clock and its interrupt logic; the receive and
 * transmit paths are `NicReceive` and `NicTransmit`. Both reach RAM as a bus master
 * (`BusMasterDma`), at no cost to any CPU.
 */
export class Nic82599 implements MmioDevice, MsiTarget, NicContext {
  readonly name: string;
  readonly msix: MsixTable;
  readonly dma: BusMasterDma;
  readonly rx: NicReceive;
  readonly tx: NicTransmit;
  /** BAR0's registers as dwords; `kind` says which are modelled and how. */
  readonly regs = new Uint32Array(R.NIC_BAR0_SIZE / 4);
  private readonly kind = new Uint8Array(R.NIC_BAR0_SIZE / 4);
  private readonly mac: Uint8Array;
  /** Interrupt messages the device sent, per vector (tests and traces). */
  readonly interrupts = new Float64Array(R.NIC_VECTORS);

  // Interrupt throttling: per vector, when the next message may be sent, and an armed timer.
  private readonly nextAllowed = new Float64Array(R.NIC_VECTORS);
  private readonly timerArmed = new Uint8Array(R.NIC_VECTORS);
  private readonly timerActions: Array<() => void> = [];
  /** The clock of the device event being handled, or -1 outside events. */
  private eventClock = -1;

  readonly latency: PcieLatency;
  // Register writes on their way (posted): a ring of offset, value and arrival clock. Posted
  // writes to one device stay in order on the link, so arrivals never go backwards; the k-th
  // arrival event lands the k-th write unless a read has already pushed it ahead.
  private readonly postedOffset = new Uint32Array(POSTED_SLOTS);
  private readonly postedValue = new Uint32Array(POSTED_SLOTS);
  private readonly postedAt = new Float64Array(POSTED_SLOTS);
  private postedHead = 0;
  private postedCount = 0;
  private postedLast = 0;
  private postedLanded = 0;
  private postedFired = 0;
  private readonly postedArrive = (): void => {
    const k = this.postedFired++;
    while (this.postedLanded <= k && this.postedCount > 0) this.landPosted();
  };
  private readonly applyPosted = (): void => this.apply(this.postedOffset[this.postedHead]!, this.postedValue[this.postedHead]!);
  /** While a throttled message is sent: how long after the device's present it lands. */
  private msiLag = 0;
  /** Register writes that went through the posted path (tests and traces). */
  postedWrites = 0;

  constructor(
    readonly machine: Machine,
    config: Nic82599Config = {},
  ) {
    this.name = config.name ?? '82599';
    const bitsPerSecond = config.bitsPerSecond ?? 10e9;
    if (!(bitsPerSecond > 0)) throw new RangeError(`${this.name}: line rate ${config.bitsPerSecond} b/s`);
    this.mac = config.mac ?? Uint8Array.from([0x00, 0x1b, 0x21, 0x00, 0x00, 0x01]);
    this.latency = config.latency ?? pcieLatencyOf(machine.costs);
    for (const k of ['postedWrite', 'dmaRead', 'macTx', 'macRx'] as const) {
      if (!(this.latency[k] >= 0)) throw new RangeError(`${this.name}: latency ${k} ${this.latency[k]} cycles`);
    }
    if (this.mac.length !== 6) throw new RangeError(`${this.name}: a MAC address has 6 bytes, got ${this.mac.length}`);
    this.msix = new MsixTable(this.name, this);
    this.dma = new BusMasterDma(machine.mem, machine.llc);
    this.rx = new NicReceive(this, config.rxPacketBuffer ?? 512 * 1024);
    this.tx = new NicTransmit(this, bitsPerSecond);
    const plain = (off: number): void => void (this.kind[off >>> 2] = Kind.Plain);
    const special = (off: number): void => void (this.kind[off >>> 2] = Kind.Special);
    for (const off of [R.CTRL, R.STATUS, R.LINKS, R.EICR, R.EICS, R.EIMS, R.EIMC, R.RDRXCTL, R.GPRC, R.GPTC, R.GORCL, R.GORCH, R.GOTCL, R.GOTCH]) special(off);
    for (const off of [R.CTRL_EXT, R.EIAC, R.EIAM, R.GPIE, R.RXCTRL, R.RXCSUM, R.FCTRL, R.MRQC, R.HLREG0, R.DMATXCTL, R.ral(0), R.rah(0)]) plain(off);
    for (let v = 0; v < R.NIC_VECTORS; v++) {
      plain(R.eitr(v));
      const fire = (): void => this.tryInterrupt(v);
      // A message the throttle held is sent when the interval ends (the next interval counts
      // from then) and lands in the APIC one posted-write latency later, when this event fires.
      this.timerActions.push(() => {
        this.timerArmed[v] = 0;
        this.msiLag = this.latency.postedWrite;
        try {
          this.asOf(this.nextAllowed[v]!, fire);
        } finally {
          this.msiLag = 0;
        }
      });
    }
    for (let n = 0; n < R.NIC_QUEUES / 2; n++) plain(R.ivar(n));
    plain(R.IVAR_MISC);
    for (let n = 0; n < 32; n++) plain(R.reta(n));
    for (let n = 0; n < R.ETQF_FILTERS; n++) {
      plain(R.etqf(n));
      plain(R.etqs(n));
    }
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
    this.regs.fill(0);
    const m = this.mac;
    this.regs[R.ral(0) >>> 2] = (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0;
    this.regs[R.rah(0) >>> 2] = (m[4]! | (m[5]! << 8) | R.RAH_AV) >>> 0;
    this.regs[R.HLREG0 >>> 2] = 0x2ff1; // TXCRCEN, RXCRCSTRP, TXPADEN, … (datasheet default)
    for (let q = 0; q < R.NIC_QUEUES; q++) this.regs[R.srrctl(q) >>> 2] = 2 | (4 << 8); // 2 KiB buffers
    this.rx.reset();
    this.tx.reset();
    this.msix.reset();
  }

  /** The line rate of the port's MAC (bits per second). */
  get bitsPerSecond(): number {
    return this.tx.bitsPerSecond;
  }

  /** Frames leave here, at the picosecond their last bit is on the wire. */
  get onTransmit(): TransmitCallback {
    return this.tx.onTransmit;
  }

  set onTransmit(cb: TransmitCallback) {
    this.tx.onTransmit = cb;
  }

  /** DMA accesses outside RAM (master aborts). */
  get dmaAborts(): number {
    return this.dma.aborts;
  }

  /** Frames the destination filter refused. */
  get filtered(): number {
    return this.rx.filtered;
  }

  /** Transmit packets refused (TSO, too long, an offload without its context). */
  get txErrors(): number {
    return this.tx.errors;
  }

  // ------------------------------------------------------------------------------------------
  // Time.

  /** The device's present on the machine clock: the event being handled, or the CPU that touched it. */
  now(): number {
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

  asOf(at: number, action: () => void): void {
    const outer = this.eventClock;
    this.eventClock = at;
    try {
      action();
    } finally {
      this.eventClock = outer;
    }
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
    // A read does not pass the posted writes before it on the link (PCIe ordering): they have
    // reached the device when the read does, so a driver reads back what it wrote.
    while (this.postedCount > 0) this.landPosted();
    const v = this.readDword(Nic82599.canonical(offset) & ~3);
    if (size === 4) return v;
    return (v >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    // The 82599's registers take 32-bit accesses only (datasheet §8.1): narrower writes are ignored.
    if (size !== 4 || (offset & 3) !== 0) return;
    if (this.latency.postedWrite > 0 && this.eventClock < 0) this.post(offset, value >>> 0);
    else this.apply(offset, value);
  }

  /**
   * A store to a register is a posted write: the CPU goes on at once and the device sees it one
   * link latency later — a tail write starts nothing before then.
   */
  private post(offset: number, value: number): void {
    if (this.postedCount === POSTED_SLOTS) this.landPosted();
    const at = Math.max(this.now() + this.latency.postedWrite, this.postedLast);
    this.postedLast = at;
    const i = (this.postedHead + this.postedCount) % POSTED_SLOTS;
    this.postedOffset[i] = offset;
    this.postedValue[i] = value;
    this.postedAt[i] = at;
    this.postedCount++;
    this.postedWrites++;
    this.machine.schedule(at, this.postedArrive);
  }

  /** The oldest posted write reaches the registers, at its arrival clock. */
  private landPosted(): void {
    this.asOf(this.postedAt[this.postedHead]!, this.applyPosted);
    this.postedHead = (this.postedHead + 1) % POSTED_SLOTS;
    this.postedCount--;
    this.postedLanded++;
  }

  private apply(offset: number, value: number): void {
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
        return this.linkUp ? R.LINKS_UP | R.LINKS_SPEED_10G : 0;
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
        const v = this.rx.gprc;
        this.rx.gprc = 0;
        return v >>> 0;
      }
      case R.GPTC: {
        const v = this.tx.gptc;
        this.tx.gptc = 0;
        return v >>> 0;
      }
      case R.GORCL:
        return this.rx.gorc % 2 ** 32;
      case R.GORCH: {
        const v = Math.floor(this.rx.gorc / 2 ** 32);
        this.rx.gorc = 0;
        return v >>> 0;
      }
      case R.GOTCL:
        return this.tx.gotc % 2 ** 32;
      case R.GOTCH: {
        const v = Math.floor(this.tx.gotc / 2 ** 32);
        this.tx.gotc = 0;
        return v >>> 0;
      }
      case R.mpc(0): {
        const v = this.rx.mpc;
        this.rx.mpc = 0;
        return v >>> 0;
      }
    }
    if (offset >= R.rssrk(0) && offset < R.rssrk(10)) return this.regs[i]!;
    const q = (offset & 0x3ff) >>> 6;
    const reg = offset & ~0x3c0;
    if (reg === R.rdt(0) || reg === R.tdt(0)) return this.regs[i]!;
    if (reg === R.qprc(0)) return takeCount(this.rx.qprc, q);
    if (reg === R.qprdc(0)) return takeCount(this.rx.qprdc, q);
    if (reg === R.qptc(0)) return takeCount(this.tx.qptc, q);
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
        this.regs[i] = ((was | value) & (0xffff | R.EICR_LSC)) >>> 0;
        // Unmasking a vector whose cause is pending interrupts now (NAPI re-enabling after a poll).
        for (let v = 0; v < R.NIC_VECTORS; v++) if (((value & ~was) >>> v) & 1) this.tryInterrupt(v);
        if ((value & ~was & R.EICR_LSC) !== 0) this.tryOther();
        return;
      }
      case R.EIMC:
        this.regs[R.EIMS >>> 2] = (this.regs[R.EIMS >>> 2]! & ~value) >>> 0;
        return;
    }
    if (offset >= R.rssrk(0) && offset < R.rssrk(10)) {
      this.regs[i] = value;
      this.rx.keyChanged();
      return;
    }
    const reg = offset & ~0x3c0;
    if (reg === R.rdt(0) && offset < 0x1400) {
      this.regs[i] = value & 0xffff;
      this.rx.drain();
    } else if (reg === R.tdt(0) && offset < 0x6400) {
      this.regs[i] = value & 0xffff;
      this.tx.doorbell((offset & 0x3ff) >>> 6);
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

  queueCause(q: number, tx: 0 | 1): void {
    const v = this.vectorOf(q, tx);
    if (v >= 0) this.cause(v);
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
      this.machine.schedule(this.nextAllowed[v]! + this.latency.postedWrite, this.timerActions[v]!);
      return;
    }
    const interval = ((this.regs[R.eitr(v) >>> 2]! & R.EITR_INTERVAL_MASK) >>> 3) * R.EITR_UNIT_US;
    this.nextAllowed[v] = now + interval * 1e-6 * this.machine.costs.clockHz;
    if ((this.regs[R.EIAC >>> 2]! & bit) !== 0) this.regs[R.EICR >>> 2] = (this.regs[R.EICR >>> 2]! & ~bit) >>> 0;
    // Auto-mask (datasheet §7.3.1.4): the vector stays masked until the driver writes EIMS, which
    // spares ixgbe an EIMC write in every interrupt handler.
    if ((this.regs[R.GPIE >>> 2]! & R.GPIE_EIAME) !== 0 && (this.regs[R.EIAM >>> 2]! & bit) !== 0) {
      this.regs[R.EIMS >>> 2] = (this.regs[R.EIMS >>> 2]! & ~bit) >>> 0;
    }
    this.interrupts[v]++;
    this.msix.signal(v);
  }

  // ------------------------------------------------------------------------------------------
  // The link, and the "other" interrupt causes.

  /** Whether the PHY has a link (LINKS.LINK_UP). */
  private linkUp = true;

  /**
   * The link comes up or goes down (a cable pulled, the far end gone): LINKS follows, and the
   * change is the LSC cause, signalled on the vector IVAR_MISC assigns to "other" causes when
   * EIMS enables it (not throttled by EITR here). Frames still go out of the MAC; a wire that is
   * down loses them.
   */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.regs[R.EICR >>> 2] = (this.regs[R.EICR >>> 2]! | R.EICR_LSC) >>> 0;
    this.tryOther();
  }

  get link(): boolean {
    return this.linkUp;
  }

  private tryOther(): void {
    if ((this.regs[R.EICR >>> 2]! & this.regs[R.EIMS >>> 2]! & R.EICR_LSC) === 0) return;
    if ((this.regs[R.GPIE >>> 2]! & R.GPIE_MSIX_MODE) === 0) return;
    const b = (this.regs[R.IVAR_MISC >>> 2]! >>> 8) & 0xff;
    if ((b & R.IVAR_ALLOC_VAL) === 0) return;
    this.msix.signal(b & 0x3f);
  }

  deliverMsi(apicId: number, vector: number): boolean {
    const cpu = this.machine.cpus[apicId];
    if (cpu === undefined) return false;
    const wasHalted = cpu.halted;
    cpu.interrupt(vector);
    if (wasHalted && !cpu.halted) {
      // The message woke a CPU that slept until now: its clock moves on to the message's time,
      // and a CPU in the middle of a slice sized without it ends the slice (clock order again).
      const now = this.now() + this.msiLag;
      cpu.idleUntil(now);
      for (const c of this.machine.cpus) if (c !== cpu) c.endSlice = true;
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Frames from the wire.

  /**
   * A frame arrives from the wire at machine clock `at` (without its FCS, which the MAC checked
   * and stripped): it is filtered by destination address, parsed, steered by RSS to a queue and
   * DMA'd into the queue's next descriptors; or it waits in the packet buffer for descriptors,
   * or is dropped and counted. The frame is copied if it has to wait.
   */
  receiveAt(at: number, frame: Uint8Array): void {
    // The frame is whole in the packet buffer once the receive pipeline has checked it; its
    // buffer write, descriptor write-back and interrupt message then cross the link, in that
    // order, and what the CPU can see is what has landed. The device is modelled as placing the
    // frame when those writes land (its look at the ring's free descriptors, one link latency
    // earlier in hardware, is taken at the same time).
    const landed = at + this.latency.macRx + this.latency.postedWrite;
    this.machine.schedule(landed, () => this.asOf(landed, () => this.rx.receive(frame)));
  }

  /** A frame is placed now, its pipeline and link latencies already behind it (see `receiveAt`). */
  receive(frame: Uint8Array): void {
    this.rx.receive(frame);
  }
}

/** Reads and clears a per-queue statistics counter. */
function takeCount(counts: Float64Array, q: number): number {
  const v = counts[q]!;
  counts[q] = 0;
  return v >>> 0;
}
