/**
 * A minimal ixgbe-style driver for the NIC tests: it runs on CPU 0 at CPL 0 and does everything
 * through the CPU's MMU — register accesses to BAR0 and BAR3 mapped uncached (PCD), descriptor
 * reads and writes in rings that are ordinary RAM — as a kernel driver does. Frames are built
 * here with an independent checksum implementation, so the tests check the NIC against it.
 */
import { PAGE_SIZE, PTE_P, PTE_PCD, PTE_W } from '../../../core/vtx/arch.js';
import { Nic82599, Nic82599Config } from '../../../core/vtx/devices/nic-82599.js';
import * as R from '../../../core/vtx/devices/nic-registers.js';
import { MICROSOFT_RSS_KEY } from '../../../core/vtx/devices/toeplitz-hash.js';
import { Rig, rig } from '../helpers.js';
import { Cluster } from '../../../core/cluster/cluster.js';
import type { TestbedPath } from '../../../core/cluster/testbed-path.js';

export const BAR0 = 0xf000_0000;
export const MSIX_BAR = 0xf004_0000;
/** Where the driver maps the BARs (linear), PML4 slot 0xa0: far from the boot direct map. */
const BAR_VA = 0x50_0000_0000;
export const NIC_MAC = Uint8Array.from([0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c]);

export interface Ring {
  /** Physical (== linear: the boot direct map is the identity) address of descriptor 0. */
  base: number;
  count: number;
  /** Buffer of each descriptor (physical). */
  buffers: number[];
}

export class TestDriver {
  readonly regsVa: number;
  readonly msixVa: number;
  readonly rx: Ring[] = [];
  readonly tx: Ring[] = [];

  constructor(
    readonly r: Rig,
    readonly nic: Nic82599,
    index = 0,
  ) {
    this.regsVa = BAR_VA + index * 0x100_0000;
    this.msixVa = this.regsVa + 0x80_0000;
    const bar0 = BAR0 + index * 0x10_0000;
    nic.map(bar0, bar0 + 0x4_0000);
    for (let off = 0; off < R.NIC_BAR0_SIZE; off += PAGE_SIZE) r.boot.pt.map(this.regsVa + off, bar0 + off, PTE_P | PTE_W | PTE_PCD);
    for (let off = 0; off < R.NIC_MSIX_BAR_SIZE; off += PAGE_SIZE) r.boot.pt.map(this.msixVa + off, bar0 + 0x4_0000 + off, PTE_P | PTE_W | PTE_PCD);
  }

  get cpu() {
    return this.r.cpu;
  }

  /**
   * Device events due by the CPU's clock happen before its next register access, as they would
   * inside the machine's run (a slice ends at an event): this driver runs outside it.
   */
  private sync(): void {
    while (this.r.m.nextEventAt <= this.cpu.cycles) this.r.m.advanceToNextEvent();
  }

  w(off: number, v: number): void {
    this.sync();
    this.cpu.mmu.write32(this.regsVa + off, v >>> 0);
  }

  rd(off: number): number {
    this.sync();
    return this.cpu.mmu.read32(this.regsVa + off);
  }

  /**
   * Register writes are posted: they reach the device a link latency after the store. A read
   * cannot pass them, so reading STATUS waits until they have landed (ixgbe's IXGBE_WRITE_FLUSH).
   */
  flush(): void {
    this.rd(R.STATUS);
  }

  /** Reset, MSI-X mode, the Microsoft RSS key, receive and transmit enabled. */
  init(): void {
    this.w(R.CTRL, R.CTRL_RST);
    this.w(R.GPIE, R.GPIE_MSIX_MODE);
    for (let n = 0; n < 10; n++) {
      const k = MICROSOFT_RSS_KEY;
      this.w(R.rssrk(n), k[4 * n]! | (k[4 * n + 1]! << 8) | (k[4 * n + 2]! << 16) | (k[4 * n + 3]! << 24));
    }
    this.w(R.RXCSUM, R.RXCSUM_PCSD);
    this.w(R.FCTRL, R.FCTRL_BAM);
    this.w(R.DMATXCTL, R.DMATXCTL_TE);
    this.flush();
  }

  /** RETA entry i → queue `map(i)`. */
  setReta(map: (i: number) => number): void {
    for (let n = 0; n < 32; n++) {
      let v = 0;
      for (let b = 0; b < 4; b++) v |= map(4 * n + b) << (8 * b);
      this.w(R.reta(n), v);
    }
  }

  /** MSI-X entry `v` sends `vector` to APIC `apic`, unmasked. */
  msixEntry(v: number, vector: number, apic = 0): void {
    const mm = this.cpu.mmu;
    mm.write32(this.msixVa + 16 * v, 0xfee0_0000 | (apic << 12));
    mm.write32(this.msixVa + 16 * v + 4, 0);
    mm.write32(this.msixVa + 16 * v + 8, vector);
    mm.write32(this.msixVa + 16 * v + 12, 0);
  }

  /** IVAR: RX (tx = 0) or TX (tx = 1) queue q → vector v. */
  ivar(q: number, tx: number, v: number): void {
    const off = R.ivar(q >>> 1);
    const shift = ((q & 1) * 2 + tx) * 8;
    const old = this.rd(off);
    this.w(off, (old & ~(0xff << shift)) | ((v | R.IVAR_ALLOC_VAL) << shift));
  }

  private allocRing(count: number, bufSize: number): Ring {
    const m = this.r.m;
    const pages = Math.ceil((count * 16) / PAGE_SIZE);
    const base = m.frames.allocContiguous(pages, 1);
    const buffers: number[] = [];
    const perPage = PAGE_SIZE / bufSize;
    let page = -1;
    for (let i = 0; i < count; i++) {
      if (i % perPage === 0) page = m.frames.alloc();
      buffers.push(page + (i % perPage) * bufSize);
    }
    return { base, count, buffers };
  }

  /** Receive queue q: a ring of `count` descriptors with 2 KiB buffers, `post` of them posted. */
  setupRx(q: number, count: number, post = count - 1, srrctlExtra = 0): Ring {
    const ring = this.allocRing(count, 2048);
    this.rx[q] = ring;
    this.w(R.rdbal(q), ring.base);
    this.w(R.rdbah(q), 0);
    this.w(R.rdlen(q), count * 16);
    this.w(R.SRRCTL_ALIAS + 4 * q, 2 | R.SRRCTL_DESCTYPE_ADV_ONEBUF | srrctlExtra); // where ixgbe writes it
    this.w(R.rdh(q), 0);
    this.w(R.rdt(q), 0);
    for (let i = 0; i < count; i++) this.armRx(q, i);
    this.w(R.rxdctl(q), R.XDCTL_ENABLE);
    this.w(R.rdt(q), post % count);
    this.flush();
    return ring;
  }

  /** Writes descriptor i of RX queue q in read format (its buffer; header address 0 clears DD). */
  armRx(q: number, i: number): void {
    const ring = this.rx[q]!;
    const va = ring.base + 16 * i;
    this.cpu.mmu.write64(va, ring.buffers[i]!, 0);
    this.cpu.mmu.write64(va + 8, 0, 0);
  }

  /** The write-back of RX descriptor i of queue q. */
  rxWriteback(q: number, i: number): { rssType: number; pktType: number; hash: number; status: number; length: number } {
    const va = this.rx[q]!.base + 16 * i;
    const mm = this.cpu.mmu;
    const d0 = mm.read32(va);
    return { rssType: d0 & 0xf, pktType: d0 & 0x1fff0, hash: mm.read32(va + 4), status: mm.read32(va + 8), length: mm.read32(va + 12) & 0xffff };
  }

  rxDone(q: number, i: number): boolean {
    return (this.cpu.mmu.read32(this.rx[q]!.base + 16 * i + 8) & R.RXD_STAT_DD) !== 0;
  }

  rxBuffer(q: number, i: number, len: number): Uint8Array {
    const pa = this.rx[q]!.buffers[i]!;
    const out = new Uint8Array(len);
    for (let k = 0; k < len; k++) out[k] = this.cpu.mmu.read8(pa + k);
    return out;
  }

  setupTx(q: number, count: number): Ring {
    const ring = this.allocRing(count, 256);
    this.tx[q] = ring;
    this.w(R.tdbal(q), ring.base);
    this.w(R.tdbah(q), 0);
    this.w(R.tdlen(q), count * 16);
    this.w(R.tdh(q), 0);
    this.w(R.tdt(q), 0);
    this.w(R.txdctl(q), R.XDCTL_ENABLE);
    this.flush();
    return ring;
  }

  /** A context descriptor at slot i: MACLEN 14, IPLEN 20, IPv4 and TCP (or UDP). */
  txContext(q: number, i: number, tcp = true): void {
    const va = this.tx[q]!.base + 16 * i;
    const mm = this.cpu.mmu;
    mm.write32(va, 20 | (14 << R.TXD_MACLEN_SHIFT));
    mm.write32(va + 4, 0);
    mm.write32(va + 8, R.TXD_CMD_DEXT | R.TXD_DTYP_CTXT | R.TXD_TUCMD_IPV4 | (tcp ? R.TXD_TUCMD_L4T_TCP : R.TXD_TUCMD_L4T_UDP));
    mm.write32(va + 12, 0);
  }

  /** A data descriptor at slot i: `frame` copied into the slot's buffer; checksum insertion on request. */
  txData(q: number, i: number, frame: Uint8Array, opts: { offload?: boolean; eop?: boolean; rs?: boolean } = {}): void {
    const ring = this.tx[q]!;
    const mm = this.cpu.mmu;
    const buf = ring.buffers[i]!;
    for (let k = 0; k < frame.length; k++) mm.write8(buf + k, frame[k]!);
    const va = ring.base + 16 * i;
    mm.write64(va, buf, 0);
    const cmd = frame.length | R.TXD_DTYP_DATA | R.TXD_CMD_DEXT | R.TXD_CMD_IFCS | (opts.eop === false ? 0 : R.TXD_CMD_EOP) | (opts.rs === false ? 0 : R.TXD_CMD_RS);
    mm.write32(va + 8, cmd);
    mm.write32(va + 12, (opts.offload ? R.TXD_POPTS_IXSM | R.TXD_POPTS_TXSM : 0) | (frame.length << 14));
  }

  txDone(q: number, i: number): boolean {
    return (this.cpu.mmu.read32(this.tx[q]!.base + 16 * i + 12) & R.TXD_STAT_DD) !== 0;
  }
}

/** A machine with `cpus` CPUs, and a NIC port with its driver. */
export function nicRig(config: Nic82599Config = {}, cpus = 1): { r: Rig; nic: Nic82599; drv: TestDriver } {
  const r = rig({ cpus, memory: 32 << 20 });
  const nic = new Nic82599(r.m, { mac: NIC_MAC, ...config });
  const drv = new TestDriver(r, nic);
  drv.init();
  return { r, nic, drv };
}

/** Lets every pending device event happen (the CPUs idle meanwhile). */
export function drainEvents(r: Rig): void {
  while (r.m.advanceToNextEvent()) {
    /* each call fires the next event */
  }
}

// ----------------------------------------------------------------------------------------------
// Frames, built independently of the NIC's code.

/** RFC 1071 checksum, written as the RFC's reference loop (32-bit accumulator, folded at the end). */
export function rfc1071(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes[i]! * 256 + bytes[i + 1]!;
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1]! * 256;
  while (sum >= 0x10000) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function dotted(a: string): number[] {
  return a.split('.').map(Number);
}

export interface FrameSpec {
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  protocol?: number; // 6 TCP (default), 17 UDP, anything else: no L4 header
  payload?: number | Uint8Array;
  dstMac?: Uint8Array;
  /** 'none': both checksum fields zero; 'seed': IP zero, L4 holds the pseudo-header sum (for offload). */
  checksums?: 'full' | 'none' | 'seed';
  ipId?: number;
}

/** The pseudo-header's bytes (RFC 793 §3.1). */
function pseudoHeader(src: number[], dst: number[], protocol: number, l4Len: number): Uint8Array {
  return Uint8Array.from([...src, ...dst, 0, protocol, l4Len >>> 8, l4Len & 0xff]);
}

/** An Ethernet II / IPv4 / TCP or UDP frame (no FCS). */
export function buildFrame(spec: FrameSpec): Uint8Array {
  const protocol = spec.protocol ?? 6;
  const payload = typeof spec.payload === 'number' ? Uint8Array.from({ length: spec.payload }, (_, i) => (i * 7 + 1) & 0xff) : spec.payload ?? new Uint8Array(0);
  const l4h = protocol === 6 ? 20 : protocol === 17 ? 8 : 0;
  const l4Len = l4h + payload.length;
  const f = new Uint8Array(14 + 20 + l4Len);
  f.set(spec.dstMac ?? NIC_MAC, 0);
  f.set([0x02, 0, 0, 0, 0, 0x99], 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const ip = 14;
  const src = dotted(spec.src);
  const dst = dotted(spec.dst);
  f[ip] = 0x45;
  const total = 20 + l4Len;
  f[ip + 2] = total >>> 8;
  f[ip + 3] = total & 0xff;
  f[ip + 4] = (spec.ipId ?? 1) >>> 8;
  f[ip + 5] = (spec.ipId ?? 1) & 0xff;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = protocol;
  f.set(src, ip + 12);
  f.set(dst, ip + 16);
  const l4 = ip + 20;
  if (l4h > 0) {
    f[l4] = (spec.srcPort ?? 0) >>> 8;
    f[l4 + 1] = (spec.srcPort ?? 0) & 0xff;
    f[l4 + 2] = (spec.dstPort ?? 0) >>> 8;
    f[l4 + 3] = (spec.dstPort ?? 0) & 0xff;
    if (protocol === 6) {
      f[l4 + 7] = 1; // sequence number 1
      f[l4 + 12] = 0x50; // data offset 5 words
      f[l4 + 13] = 0x18; // PSH, ACK
      f[l4 + 14] = 0xff; // window
    } else {
      f[l4 + 4] = l4Len >>> 8;
      f[l4 + 5] = l4Len & 0xff;
    }
  }
  f.set(payload, l4 + l4h);
  const mode = spec.checksums ?? 'full';
  if (mode === 'none') return f;
  const csumAt = protocol === 6 ? l4 + 16 : l4 + 6;
  if (mode === 'seed') {
    // What ixgbe/DPDK leave for the 82599: the uncomplemented pseudo-header sum in the L4 field.
    if (l4h > 0) {
      const seed = ~rfc1071(pseudoHeader(src, dst, protocol, l4Len)) & 0xffff;
      f[csumAt] = seed >>> 8;
      f[csumAt + 1] = seed & 0xff;
    }
    return f;
  }
  const ipSum = rfc1071(f.subarray(ip, ip + 20));
  f[ip + 10] = ipSum >>> 8;
  f[ip + 11] = ipSum & 0xff;
  if (l4h > 0) {
    const whole = new Uint8Array(12 + l4Len);
    whole.set(pseudoHeader(src, dst, protocol, l4Len), 0);
    whole.set(f.subarray(l4), 12);
    let c = rfc1071(whole);
    if (protocol === 17 && c === 0) c = 0xffff;
    f[csumAt] = c >>> 8;
    f[csumAt + 1] = c & 0xff;
  }
  return f;
}

/** Whether a frame's IPv4 header checksum and TCP/UDP checksum verify (computed afresh). */
export function checksumsValid(f: Uint8Array): { ip: boolean; l4: boolean } {
  const ip = 14;
  const ihl = (f[ip]! & 0xf) * 4;
  const total = f[ip + 2]! * 256 + f[ip + 3]!;
  const protocol = f[ip + 9]!;
  const l4Len = total - ihl;
  const whole = new Uint8Array(12 + l4Len);
  whole.set(pseudoHeader([...f.subarray(ip + 12, ip + 16)], [...f.subarray(ip + 16, ip + 20)], protocol, l4Len), 0);
  whole.set(f.subarray(ip + ihl, ip + total), 12);
  return { ip: rfc1071(f.subarray(ip, ip + ihl)) === 0, l4: rfc1071(whole) === 0 };
}

/**
 * Two bare 82599 ports on two machines of one cluster, joined by `path` (seconds of propagation,
 * or a testbed path), each driven from outside its machine's run loop: the CPUs are idle
 * meanwhile (an interrupt would wake them; none is enabled).
 */
export function connectedPair(
  path: number | TestbedPath = 25e-9,
  macB: Uint8Array = Uint8Array.from([0, 0x1b, 0x21, 0, 0, 0xb]),
): { cluster: Cluster; a: TestDriver; b: TestDriver } {
  const ra = rig({ memory: 32 << 20 });
  const rb = rig({ memory: 32 << 20 });
  const a = new TestDriver(ra, new Nic82599(ra.m, { name: 'a', mac: Uint8Array.from([0, 0x1b, 0x21, 0, 0, 0xa]) }));
  const b = new TestDriver(rb, new Nic82599(rb.m, { name: 'b', mac: macB }));
  a.init();
  b.init();
  ra.cpu.idle();
  rb.cpu.idle();
  const cluster = new Cluster();
  cluster.addNode('a', ra.m);
  cluster.addNode('b', rb.m);
  cluster.connect(a.nic, b.nic, path);
  return { cluster, a, b };
}
