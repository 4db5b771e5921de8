import type { Cpu } from '../../vtx/cpu.js';
import * as R from '../../vtx/devices/nic-registers.js';
import { MICROSOFT_RSS_KEY } from '../../vtx/devices/toeplitz-hash.js';
import type { NetDevice, NetDeviceReceiver } from '../../net/net-device.js';
import { ioremap } from '../ioremap.js';
import type { Kernel } from '../kernel.js';
import { IxgbeRxRing, IxgbeTxRing, RX_BUFFER_SIZE, TX_WAKE_THRESHOLD } from './ixgbe-ring.js';
import { NapiStruct } from './napi.js';

/** Where PCI enumeration found the port: its register BAR and its MSI-X BAR (physical). */
export interface PciResources {
  bar0: number;
  msixBar: number;
}

export interface IxgbeConfig {
  /** Interface name (eth0). */
  name?: string;
  /** Queue pairs, one per CPU by default (at most 16, the RSS limit). */
  queues?: number;
  /** Descriptors per ring (ixgbe's default 512). */
  rxDescriptors?: number;
  txDescriptors?: number;
  /**
   * EITR value of every queue vector, as ixgbe writes it (interval in bits 11:3, 2.048 µs
   * units): IXGBE_100K_ITR, 40 (10 µs), the lowest-latency rate ixgbe's adaptive moderation
   * settles on for small frames at low rates; IXGBE_20K_ITR, 200, its bulk setting.
   */
  itr?: number;
  /** SRRCTL.DROP_EN: a queue without free descriptors drops (rx_no_dma_resources) instead of holding frames. */
  rxDropEnable?: boolean;
}

/** IXGBE_100K_ITR and IXGBE_20K_ITR (ixgbe.h). */
export const IXGBE_100K_ITR = 40;
export const IXGBE_20K_ITR = 200;
/** ETH_DATA_LEN: the MTU of Ethernet without jumbo frames. */
const ETH_DATA_LEN = 1500;
const ETH_HLEN = 14;

/** A device vector of Linux's external range (FIRST_EXTERNAL_VECTOR 0x20 and the ISA vectors below 0x41 left out). */
const FIRST_DEVICE_VECTOR = 0x41;

/** The interface counters ip -s link and ethtool -S show. */
export interface IxgbeStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Frames nobody took (no receiver bound). */
  rxDropped: number;
  /** Frames the device reported with a bad IPv4 or L4 checksum (hw_csum_rx_error). */
  rxCsumErrors: number;
  /** Transmits refused because the ring was full (tx_busy, the queue stopped). */
  txBusy: number;
  /** Frames the driver refused to send (longer than the MTU allows, shorter than a header). */
  txDropped: number;
  /** MPC: frames the device missed with its packet buffer full (rx_missed_errors). */
  rxMissedErrors: number;
  /** QPRDC: frames the device dropped for want of a descriptor, DROP_EN set (rx_no_dma_resources). */
  rxNoDmaResources: number;
}

/** One queue pair and its interrupt vector (struct ixgbe_q_vector). */
interface QVector {
  index: number;
  cpu: number;
  vector: number;
  rx: IxgbeRxRing;
  tx: IxgbeTxRing;
  napi: NapiStruct;
}

/**
 * The Linux driver of an Intel 82599 port (drivers/net/ethernet/intel/ixgbe), as the kernel
 * model runs it: register accesses are loads and stores through the CPU's MMU to BAR0 mapped
 * uncached, rings and buffers are pages of the kernel's allocator the device DMAs, one MSI-X
 * vector per queue pair aimed at that queue's CPU, NAPI polling in the NET_RX softirq. Frames go
 * up to a `NetDeviceReceiver` (the protocol stack) and come down through `transmit`.
 */
export class Ixgbe implements NetDevice {
  readonly name: string;
  readonly mtu = ETH_DATA_LEN;
  readonly mac = new Uint8Array(6);
  /** Linear addresses of BAR0 and of the MSI-X table (ioremap). */
  private readonly hw: number;
  private readonly msix: number;
  readonly qVectors: QVector[] = [];
  private receiver: NetDeviceReceiver | undefined;
  private readonly config: Required<IxgbeConfig>;
  /** netif_carrier_ok. */
  carrier = false;
  private up = false;
  readonly stats: IxgbeStats = {
    rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0, rxCsumErrors: 0,
    txBusy: 0, txDropped: 0, rxMissedErrors: 0, rxNoDmaResources: 0,
  };

  private constructor(
    readonly kernel: Kernel,
    res: PciResources,
    config: IxgbeConfig,
  ) {
    const cpus = kernel.machine.cpus.length;
    const queues = config.queues ?? Math.min(cpus, R.NIC_QUEUES);
    if (!Number.isInteger(queues) || queues < 1 || queues > R.NIC_QUEUES) throw new RangeError(`ixgbe: ${config.queues} queues (1 to ${R.NIC_QUEUES})`);
    const itr = config.itr ?? IXGBE_100K_ITR;
    if (!Number.isInteger(itr) || itr < 0 || (itr & ~R.EITR_INTERVAL_MASK) !== 0) throw new RangeError(`ixgbe: EITR value ${config.itr} (bits 11:3 only)`);
    this.config = {
      name: config.name ?? 'eth0', queues, rxDescriptors: config.rxDescriptors ?? 512, txDescriptors: config.txDescriptors ?? 512,
      itr, rxDropEnable: config.rxDropEnable ?? false,
    };
    this.name = this.config.name;
    this.hw = ioremap(kernel, res.bar0, R.NIC_BAR0_SIZE);
    this.msix = ioremap(kernel, res.msixBar, R.NIC_MSIX_BAR_SIZE);
  }

  /**
   * ixgbe_probe: maps the BARs, checks that a device answers (a read of all ones is nobody:
   * ixgbe's IXGBE_FAILED_READ_REG), resets it, reads the station address the EEPROM loaded into
   * RAL(0)/RAH(0). The device stays down until `open`.
   */
  static probe(kernel: Kernel, res: PciResources, config: IxgbeConfig = {}, cpu: Cpu = kernel.machine.cpus[0]!): Ixgbe {
    const dev = new Ixgbe(kernel, res, config);
    const rah = dev.rd(cpu, R.rah(0));
    if (rah === 0xffff_ffff || (rah & R.RAH_AV) === 0) {
      throw new Error(`ixgbe: no 82599 answers at BAR0 0x${res.bar0.toString(16)} (RAH(0) reads 0x${rah.toString(16)})`);
    }
    dev.wr(cpu, R.CTRL, R.CTRL_RST); // ixgbe_reset_hw_82599: self-clearing
    dev.rd(cpu, R.CTRL);
    const ral = dev.rd(cpu, R.ral(0));
    const rah2 = dev.rd(cpu, R.rah(0));
    dev.mac.set([ral & 0xff, (ral >>> 8) & 0xff, (ral >>> 16) & 0xff, ral >>> 24, rah2 & 0xff, (rah2 >>> 8) & 0xff]);
    return dev;
  }

  /** Where received frames go (the protocol stack's netif_receive_skb). */
  bind(receiver: NetDeviceReceiver): void {
    this.receiver = receiver;
  }

  private rd(cpu: Cpu, reg: number): number {
    return cpu.mmu.read32(this.hw + reg);
  }

  private wr(cpu: Cpu, reg: number, v: number): void {
    cpu.mmu.write32(this.hw + reg, v >>> 0);
  }

  /**
   * ixgbe_open: rings and buffers allocated, MSI-X vectors requested (queue q's on CPU q mod
   * N), RSS programmed (the Microsoft key, RETA entry i → queue i mod queues, TCP/IPv4 and IPv4
   * hashing), rings configured and filled, receive enabled, interrupts unmasked.
   */
  open(cpu: Cpu = this.kernel.machine.cpus[0]!): void {
    if (this.up) throw new Error(`${this.name}: already up`);
    const k = this.kernel;
    const m = k.machine;
    const kva = (pa: number): number => k.kva(pa);
    const { queues, rxDescriptors, txDescriptors, itr } = this.config;
    // ixgbe_setup_gpie: MSI-X mode, and auto-mask of the vector that fired (EIAM): the handler
    // needs no EIMC write.
    this.wr(cpu, R.GPIE, R.GPIE_MSIX_MODE | R.GPIE_EIAME);
    let mask = 0;
    for (let q = 0; q < queues; q++) {
      const vector = k.allocateIrqVector(FIRST_DEVICE_VECTOR);
      const target = q % m.cpus.length;
      const rx = new IxgbeRxRing(m, kva, q, rxDescriptors);
      const tx = new IxgbeTxRing(m, kva, q, txDescriptors);
      const napi = new NapiStruct(`${this.name}-TxRx-${q}`, (c, budget) => this.poll(c, qv, budget));
      const qv: QVector = { index: q, cpu: target, vector, rx, tx, napi };
      this.qVectors.push(qv);
      k.requestIrq(vector, `${this.name}-TxRx-${q}`, (c) => this.msixCleanRings(c, qv));
      // The MSI-X entry: the message goes to the local APIC of the queue's CPU with its vector.
      const e = this.msix + 16 * q;
      cpu.mmu.write32(e, 0xfee0_0000 | (target << 12));
      cpu.mmu.write32(e + 4, 0);
      cpu.mmu.write32(e + 8, vector);
      cpu.mmu.write32(e + 12, 0); // unmasked
      // IVAR: RX queue q and TX queue q both cause vector q (ixgbe_set_ivar).
      const off = R.ivar(q >>> 1);
      const shift = (q & 1) * 16;
      const old = this.rd(cpu, off);
      const bits = ((q | R.IVAR_ALLOC_VAL) << shift) | ((q | R.IVAR_ALLOC_VAL) << (shift + 8));
      this.wr(cpu, off, (old & ~(0xffff << shift)) | bits);
      this.wr(cpu, R.eitr(q), itr);
      mask |= 1 << q;
    }
    // The "other" causes (link status change) on the next MSI-X entry, aimed at CPU 0
    // (ixgbe_request_msix_irqs: ixgbe_msix_other).
    const other = queues;
    const otherVector = k.allocateIrqVector(FIRST_DEVICE_VECTOR);
    k.requestIrq(otherVector, this.name, (c) => this.msixOther(c));
    const e = this.msix + 16 * other;
    cpu.mmu.write32(e, 0xfee0_0000);
    cpu.mmu.write32(e + 4, 0);
    cpu.mmu.write32(e + 8, otherVector);
    cpu.mmu.write32(e + 12, 0);
    this.wr(cpu, R.IVAR_MISC, (other | R.IVAR_ALLOC_VAL) << 8);
    this.wr(cpu, R.EIAC, mask);
    this.wr(cpu, R.EIAM, mask);
    // ixgbe_setup_mrqc.
    const key = MICROSOFT_RSS_KEY;
    for (let n = 0; n < 10; n++) this.wr(cpu, R.rssrk(n), key[4 * n]! | (key[4 * n + 1]! << 8) | (key[4 * n + 2]! << 16) | (key[4 * n + 3]! << 24));
    for (let n = 0; n < 32; n++) {
      let v = 0;
      for (let b = 0; b < 4; b++) v |= ((4 * n + b) % queues) << (8 * b);
      this.wr(cpu, R.reta(n), v);
    }
    this.wr(cpu, R.RXCSUM, R.RXCSUM_PCSD);
    this.wr(cpu, R.MRQC, R.MRQC_MRQE_RSS | R.MRQC_RSS_TCPIPV4 | R.MRQC_RSS_IPV4);
    this.wr(cpu, R.FCTRL, R.FCTRL_BAM);
    // ixgbe_configure_tx / ixgbe_configure_rx: each ring's base, length, head and tail.
    this.wr(cpu, R.DMATXCTL, R.DMATXCTL_TE);
    for (const qv of this.qVectors) {
      const q = qv.index;
      this.wr(cpu, R.txdctl(q), 0);
      this.wr(cpu, R.tdbal(q), qv.tx.dma >>> 0);
      this.wr(cpu, R.tdbah(q), Math.floor(qv.tx.dma / 2 ** 32));
      this.wr(cpu, R.tdlen(q), qv.tx.count * 16);
      this.wr(cpu, R.tdh(q), 0);
      this.wr(cpu, R.tdt(q), 0);
      this.wr(cpu, R.txdctl(q), R.XDCTL_ENABLE);
      this.wr(cpu, R.rxdctl(q), 0);
      this.wr(cpu, R.rdbal(q), qv.rx.dma >>> 0);
      this.wr(cpu, R.rdbah(q), Math.floor(qv.rx.dma / 2 ** 32));
      this.wr(cpu, R.rdlen(q), qv.rx.count * 16);
      this.wr(cpu, R.rdh(q), 0);
      this.wr(cpu, R.rdt(q), 0);
      const drop = this.config.rxDropEnable ? R.SRRCTL_DROP_EN : 0;
      this.wr(cpu, R.srrctl(q), (RX_BUFFER_SIZE >>> 10) | R.SRRCTL_DESCTYPE_ADV_ONEBUF | drop);
      this.wr(cpu, R.rxdctl(q), R.XDCTL_ENABLE);
      qv.rx.alloc(cpu, qv.rx.unused(), this.hw + R.rdt(q));
    }
    this.wr(cpu, R.RXCTRL, R.RXCTRL_RXEN);
    this.carrier = (this.rd(cpu, R.LINKS) & R.LINKS_UP) !== 0;
    this.up = true;
    this.wr(cpu, R.EIMS, mask | R.EICR_LSC); // ixgbe_irq_enable
    // IXGBE_WRITE_FLUSH (ixgbe_irq_enable's flush): reading STATUS waits until the posted
    // register writes before it have reached the device.
    this.rd(cpu, R.STATUS);
  }

  /**
   * ixgbe_msix_other: reads and clears the causes; on a link status change, LINKS decides the
   * carrier (what ixgbe's service task does with ixgbe_watchdog_update_link, run here at once).
   * Carrier off stops every transmit queue (netif_tx_stop_all_queues): `transmit` refuses until
   * the link is back, then the stack hears `transmitReady`.
   */
  private msixOther(cpu: Cpu): void {
    const eicr = this.rd(cpu, R.EICR);
    this.wr(cpu, R.EICR, eicr & R.EICR_LSC);
    if ((eicr & R.EICR_LSC) !== 0) {
      const up = (this.rd(cpu, R.LINKS) & R.LINKS_UP) !== 0;
      if (up !== this.carrier) {
        this.carrier = up;
        this.linkChanges++;
        if (up) this.receiver?.transmitReady(this);
      }
    }
    this.wr(cpu, R.EIMS, R.EICR_LSC);
  }

  /** Carrier changes seen (ip link's carrier_changes). */
  linkChanges = 0;

  // -------------------------------------------------------------------------------------------
  // Interrupts and NAPI.

  /** ixgbe_msix_clean_rings: the vector masked itself (EIAM); the rings are left to NAPI. */
  private msixCleanRings(cpu: Cpu, qv: QVector): void {
    this.kernel.netRx.schedule(cpu, qv.napi);
  }

  /**
   * ixgbe_poll: reclaim sent descriptors, then up to `budget` received frames. Under budget the
   * rings are empty: napi_complete and unmask the vector (an EIMS write; a cause that came
   * meanwhile interrupts at once). At budget the poll stays scheduled, the vector masked.
   */
  private poll(cpu: Cpu, qv: QVector, budget: number): number {
    const costs = this.kernel.costs;
    const tx = qv.tx.clean(cpu);
    this.stats.txPackets += tx.packets;
    this.stats.txBytes += tx.bytes;
    if (qv.tx.stopped && qv.tx.unused() >= TX_WAKE_THRESHOLD) {
      qv.tx.stopped = false;
      this.receiver?.transmitReady(this); // netif_wake_subqueue
    }
    const rdt = this.hw + R.rdt(qv.index);
    const work = qv.rx.clean(cpu, budget, rdt, (f) => {
      cpu.charge(costs.netRxPacketPath);
      this.stats.rxPackets++;
      this.stats.rxBytes += f.frame.length;
      // ixgbe_rx_checksum: a frame the device found bad still goes up, without
      // CHECKSUM_UNNECESSARY; the stack checks it in software and drops it.
      if (f.csumError) this.stats.rxCsumErrors++;
      if (this.receiver === undefined) this.stats.rxDropped++;
      else this.receiver.receive(this, f.frame);
    });
    if (work >= budget || !tx.complete) return budget;
    qv.napi.complete();
    this.wr(cpu, R.EIMS, 1 << qv.index); // ixgbe_irq_enable_queues
    return work;
  }

  // -------------------------------------------------------------------------------------------
  // Transmit.

  /**
   * ndo_start_xmit (ixgbe_xmit_frame): on the transmit queue of the CPU that sends, as ixgbe
   * picks it (one queue per CPU). False when the ring is full or the carrier is down (the queue
   * is stopped; `transmitReady` follows when it wakes).
   */
  transmit(frame: Uint8Array): boolean {
    const m = this.kernel.machine;
    if (!this.up) throw new Error(`${this.name}: transmit while the interface is down`);
    const running = m.running;
    if (running !== undefined && !running.mmu.user && !running.vmx.nonRoot) return this.xmit(running, frame);
    // From outside a CPU's kernel path (a kernel timer, a test): the kernel's code on the CPU
    // that runs now, or CPU 0, with supervisor accesses as after an interrupt's entry.
    const cpu = running ?? m.cpus[0]!;
    if (cpu.vmx.nonRoot) {
      // That CPU runs a Dune guest: the interrupt that runs this code (a kernel timer's) would have
      // made it exit first. The frame goes out from the kernel on that CPU once the guest has
      // exited, at its next instruction boundary (irq_work); if the ring is full by then, it is
      // dropped, as a full queue drops what it cannot take, and TCP sends it again.
      const copy = frame.slice();
      this.kernel.queueIrqWork(cpu, () => void this.transmit(copy));
      return true;
    }
    const ctx = cpu.mmu.ctx;
    const user = cpu.mmu.user;
    cpu.mmu.setMode(false, ctx);
    try {
      return this.xmit(cpu, frame);
    } finally {
      cpu.mmu.setMode(user, ctx);
    }
  }

  private xmit(cpu: Cpu, frame: Uint8Array): boolean {
    if (frame.length < ETH_HLEN || frame.length > ETH_HLEN + this.mtu) {
      this.stats.txDropped++;
      return true; // dropped: the device owns it and lets it go
    }
    if (!this.carrier) {
      this.stats.txBusy++;
      return false;
    }
    const qv = this.qVectors[cpu.index % this.qVectors.length]!;
    cpu.charge(this.kernel.costs.netTxPacketPath);
    if (!qv.tx.xmit(cpu, frame, this.hw + R.tdt(qv.index))) {
      this.stats.txBusy++;
      return false;
    }
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Statistics.

  /**
   * ixgbe_update_stats (run by ixgbe's watchdog, and for ethtool -S): reads the device's
   * clear-on-read counters — MPC(0) for rx_missed_errors, QPRDC(q) for rx_no_dma_resources —
   * and adds them to the interface's.
   */
  updateStats(cpu: Cpu = this.kernel.machine.cpus[0]!): IxgbeStats {
    if (cpu.mmu.user || cpu.vmx.nonRoot) throw new Error(`${this.name}: statistics are read by kernel code; cpu${cpu.index} is not in the kernel`);
    this.stats.rxMissedErrors += this.rd(cpu, R.mpc(0));
    for (const qv of this.qVectors) this.stats.rxNoDmaResources += this.rd(cpu, R.qprdc(qv.index));
    return this.stats;
  }
}
