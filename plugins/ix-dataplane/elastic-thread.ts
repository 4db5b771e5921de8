import { injectable } from 'inversify';
import type { Cpu } from '../../core/vtx/cpu.js';
import { RAX, RDI, RSI } from '../../core/vtx/cpu.js';
import type { Machine } from '../../core/vtx/machine.js';
import type { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import * as R from '../../core/vtx/devices/nic-registers.js';
import type { NetDevice } from '../../core/net/net-device.js';
import type { NetTimers } from '../../core/net/net-timers.js';
import { NetStack } from '../../core/net/net-stack.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { EINPROGRESS, POLLERR, POLLHUP, POLLRDHUP } from '../../core/linux/linux-abi.js';
import {
  BSYS_DESC_SIZE, BSYS_MAX, EVENT_SIZE, KSYS_TCP_ACCEPT, KSYS_TCP_CLOSE, KSYS_TCP_CONNECT, KSYS_TCP_RECV_DONE,
  KSYS_TCP_SENDV, MAX_EVENTS, MAX_SG_ENTRIES, MBUF_DATA_LEN, MBUFS, RDT_THRESH, REGION, RET_BADH, RET_CLOSED, RET_CONNREFUSED,
  RET_FAULT, RET_INVAL, RET_NOBUFS, RET_NOSYS, RET_OK, RING_ENTRIES, SG_ENTRY_SIZE, USYS_TCP_CONNECTED, USYS_TCP_DEAD,
  USYS_TCP_KNOCK, USYS_TCP_RECV, USYS_TCP_SENT,
} from './ix-abi.js';
import { IX_COSTS } from './ix-cost-constants.js';
import { MICROSOFT_RSS_KEY, ToeplitzHash } from '../../core/vtx/devices/toeplitz-hash.js';
import { RETA_ENTRIES } from '../../core/vtx/devices/rss-redirection.js';
import { SlabMemory } from '../../core/linux/net/slab-memory.js';
import type { LastLevelCache } from '../../core/vtx/last-level-cache.js';
import { LWIP_TCP_PCB } from './lwip-tcp-pcb.js';

/** One cache line: the Ethernet, IP and TCP headers of a frame (54 bytes, options included in most). */
const HEADER_LINE = 64;

const DESC = 16;
const PTE_P = 1;
const PTE_W = 2;
const PTE_U = 4;
const TWO_32 = 0x1_0000_0000;
/**
 * Flows an elastic thread may hold at once by default. A handle is generation · 2^16 + index
 * (IX's hid_t likewise packs the flow group above the PCB index), so 65,536 is also the most.
 */
export const DEFAULT_MAX_FLOWS = 65_536;
export const MAX_FLOWS_LIMIT = 0x1_0000;
const ETH_P_ARP = 0x0806;
/**
 * The ephemeral ports an outbound connection probes (the IANA dynamic range; IX draws its own
 * ephemeral ports from a range of its own too, so that no two cores can pick the same 4-tuple).
 */
export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_LAST = 65535;

/** Counters of one elastic thread, read by the experiments (mechanism counts). */
export interface IxCounters {
  loops: number;
  /** Loops that returned to the application (one ring-3 → ring-0 crossing each). */
  bpolls: number;
  /** Passes of the loop that found nothing and polled again. */
  idlePolls: number;
  rxPackets: number;
  txPackets: number;
  calls: number;
  events: number;
  /** Batched calls refused (RET_FAULT, RET_INVAL, RET_BADH …) and whole batches refused. */
  callErrors: number;
  badBatches: number;
  tailWrites: number;
  rdtWrites: number;
  /** Connections refused (reset) because the flow table was full. */
  flowsRefused: number;
  /** Largest RX batch taken in one pass (never above B). */
  maxRxBatch: number;
  /** Outbound connections placed, and the ephemeral ports tried for them (IX §4.4's probing). */
  dials: number;
  dialProbes: number;
  /** ARP frames this core took from a sibling's queue (the shared neighbour table's updates). */
  arpShared: number;
}

interface Flow {
  sock: TcpSocket;
  gen: number;
  cookie: number;
  accepted: boolean;
  /** Bytes reported in RECV events and not yet given back by recv_done. */
  held: number;
  /** mbufs holding those bytes, and how many bytes of each, oldest first. */
  readonly mbufs: number[];
  readonly bytes: number[];
  /** RECV events kept until the application accepts the flow. */
  readonly early: number[];
  /** Bytes sendv accepted, and acknowledged ones already reported in SENT. */
  sent: number;
  acked: number;
  dead: boolean;
  connecting: boolean;
}

/**
 * One IX elastic thread (IX §4.2–4.4): the dataplane in guest ring 0 of one core, owning one
 * queue pair of the 82599 with its descriptor rings in the thread's region of guest memory,
 * a per-core mbuf pool, the TCP/IP stack (core/net) for its flows, and the run-to-completion
 * loop that `bpoll` runs: reclaim TX, run the application's batch of calls, run timers, take at
 * most B received packets through TCP/IP (which makes event conditions), put the frames made on
 * the TX ring with one tail write, and return the events. It polls; the queue's interrupt stays
 * masked. Received payloads stay where the NIC wrote them, in mbufs the application may read but
 * not write, until it calls recv_done.
 *
 * It is TypeScript reached as a ring-0 native (`bpoll`), called by libix's ring-0 SYSCALL
 * handler: its memory traffic is by physical address (the dataplane's own mapping of its region,
 * as IX's kernel view of IOMAPK), charged per access, and its code paths are charged from
 * IX_COSTS. Everything it takes from the application — the batch array, scatter-gather lists,
 * payload buffers — is checked against the guest's page tables first (RET_FAULT), because the
 * application in ring 3 is not trusted.
 */
@injectable()
export class ElasticThread implements NetDevice, NetTimers {
  readonly name: string;
  readonly mtu = 1500;
  readonly stack: NetStack;
  readonly counters: IxCounters = {
    loops: 0, bpolls: 0, idlePolls: 0, rxPackets: 0, txPackets: 0, calls: 0, events: 0, callErrors: 0, badBatches: 0,
    tailWrites: 0, rdtWrites: 0, flowsRefused: 0, maxRxBatch: 0, dials: 0, dialProbes: 0, arpShared: 0,
  };
  /**
   * The dataplane's elastic threads on this port, this one included (set by the control plane).
   * Only ARP crosses between them: IX shares one neighbour table among its cores (RCU), and
   * ARP frames have no 4-tuple, so RSS gives them all to queue 0.
   */
  peers: readonly ElasticThread[] = [this];
  /** ARP frames a sibling received for the shared table, taken at the start of this core's next pass. */
  private readonly arpInbox: Uint8Array[] = [];
  /** Which core owns each flow group (RETA entry), as the control plane assigned them. */
  flowGroups: Uint8Array = new Uint8Array(RETA_ENTRIES);
  private readonly toeplitz = new ToeplitzHash(MICROSOFT_RSS_KEY);
  private probeCursor = EPHEMERAL_FIRST;
  /** Packets taken per loop, calls per batch: histograms (index = count, capped). */
  readonly rxBatchHistogram = new Float64Array(BSYS_MAX + 1);
  readonly callBatchHistogram = new Float64Array(BSYS_MAX + 1);
  /** The guest address of the stub (the native's entry). */
  entry = 0;
  private cpu: Cpu;
  /** The machine's last-level cache proxy: descriptors and headers the dataplane touches go through it. */
  private readonly llc: LastLevelCache | undefined;
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly instr: number;
  private readonly mmioWrite: number;
  // The mbuf pool: a stack of free indices, and a reference count per mbuf.
  private readonly freeMbufs = new Int32Array(MBUFS);
  private nFree = 0;
  private readonly mbufRefs = new Int32Array(MBUFS);
  private readonly rxMbuf = new Int32Array(RING_ENTRIES);
  private rxNext = 0;
  private rxPost = 0;
  private rxUnposted = 0;
  private txNext = 0;
  private txClean = 0;
  private txPending = 0;
  private txStopped = false;
  // The frame being taken through TCP/IP, for RECV events.
  private curMbuf = -1;
  private curPayloadEnd = 0;
  // Flows: handle = generation · 2^16 + index.
  private readonly flows: Array<Flow | undefined> = [];
  /** Flows with bytes sent and not yet reported acknowledged (the stack wakes a socket on ACKs only when its buffer was full). */
  private readonly sending = new Set<number>();
  private readonly freeFlows: number[] = [];
  private nEvents = 0;
  /** Events that did not fit in the array, five words each, for the next bpoll. */
  private readonly overflow: number[] = [];
  private spinning = false;
  private readonly scratch = new Uint8Array(65536);
  private timers: Array<{ at: number; fire: () => void; id: number }> = [];
  private timerId = 1;
  private nextTimerAt = Infinity;
  private readonly listener: TcpSocket;

  constructor(
    readonly machine: Machine,
    readonly nic: Nic82599,
    /** The NIC queue pair this thread owns. */
    readonly queue: number,
    /** Guest (= host-virtual) address of the region, and the host-physical address of each of its pages. */
    readonly regionVa: number,
    private readonly pagePa: readonly number[],
    /** The batch bound B. */
    readonly batch: number,
    address: number,
    port: number,
    cpu: Cpu,
    readonly mac: Uint8Array,
    /** The flow table's size: connections past it are reset (and counted in flowsRefused). */
    readonly maxFlows: number = DEFAULT_MAX_FLOWS,
  ) {
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > MAX_FLOWS_LIMIT) throw new RangeError(`ix: a flow table of ${maxFlows} flows (1 to ${MAX_FLOWS_LIMIT}: a handle's index is 16 bits)`);
    this.name = `ix${queue}`;
    this.cpu = cpu;
    this.u8 = machine.mem.u8;
    this.dv = new DataView(this.u8.buffer, this.u8.byteOffset, this.u8.byteLength);
    this.instr = machine.costs.instruction;
    this.mmioWrite = machine.costs.mmioWrite;
    for (let i = MBUFS - 1; i >= 0; i--) this.freeMbufs[this.nFree++] = i;
    this.stack = new NetStack(this, { secret: 0x1c5 + queue });
    // The cache proxy sees each flow's TCP state as IX keeps it: one lwIP PCB of its real size in
    // host frames (the slab allocator stands in for IX's per-core pool: line-aligned objects,
    // the last freed reused first), touched by the shared stack's paths.
    this.llc = machine.llc;
    this.stack.sockLayout = LWIP_TCP_PCB;
    if (this.llc !== undefined) this.stack.memory = new SlabMemory(machine);
    this.stack.attach(this, { address, prefixLength: 24 });
    this.listener = this.stack.tcpSocket();
    this.listener.bind(0, port);
    this.listener.listen(4096);
    this.listener.onWake = () => this.knock();
  }


  /** The host-physical address of a region offset. */
  private pa(off: number): number {
    return this.pagePa[off >>> 12]! + (off & 0xfff);
  }

  private wr(cpu: Cpu, reg: number, v: number): void {
    // The uncached store leaves the core after its cost, as the MMU charges it; the posted write
    // then crosses the link.
    cpu.charge(this.mmioWrite);
    this.nic.write(reg, 4, v >>> 0);
  }

  /**
   * The port-wide part of bring-up, done once, by the first elastic thread: reset, every
   * interrupt cause masked (the dataplane polls), broadcast accepted, TX enabled, RSS on TCP/IPv4
   * and IPv4 with the key the dataplane's own Toeplitz hash uses (for probing).
   */
  initPort(cpu: Cpu): void {
    this.wr(cpu, R.CTRL, R.CTRL_RST);
    this.wr(cpu, R.EIMC, 0xffffffff);
    this.wr(cpu, R.FCTRL, R.FCTRL_BAM);
    this.wr(cpu, R.DMATXCTL, R.DMATXCTL_TE);
    const key = MICROSOFT_RSS_KEY;
    for (let n = 0; n < 10; n++) this.wr(cpu, R.rssrk(n), key[4 * n]! | (key[4 * n + 1]! << 8) | (key[4 * n + 2]! << 16) | (key[4 * n + 3]! << 24));
    this.wr(cpu, R.MRQC, R.MRQC_MRQE_RSS | R.MRQC_RSS_TCPIPV4 | R.MRQC_RSS_IPV4);
  }

  /** Brings up this thread's queue pair (ixgbe's per-queue init, as IX's ethdev does it): rings, SRRCTL, RX on. */
  init(cpu: Cpu): void {
    const q = this.queue;
    const tx = this.pa(REGION.txRing);
    const rx = this.pa(REGION.rxRing);
    this.wr(cpu, R.tdbal(q), tx >>> 0);
    this.wr(cpu, R.tdbah(q), Math.floor(tx / TWO_32));
    this.wr(cpu, R.tdlen(q), RING_ENTRIES * DESC);
    this.wr(cpu, R.tdh(q), 0);
    this.wr(cpu, R.tdt(q), 0);
    this.wr(cpu, R.txdctl(q), R.XDCTL_ENABLE);
    this.wr(cpu, R.rdbal(q), rx >>> 0);
    this.wr(cpu, R.rdbah(q), Math.floor(rx / TWO_32));
    this.wr(cpu, R.rdlen(q), RING_ENTRIES * DESC);
    this.wr(cpu, R.rdh(q), 0);
    this.wr(cpu, R.rdt(q), 0);
    this.wr(cpu, R.srrctl(q), (MBUF_DATA_LEN >>> 10) | R.SRRCTL_DESCTYPE_ADV_ONEBUF);
    this.wr(cpu, R.rxdctl(q), R.XDCTL_ENABLE);
    this.wr(cpu, R.RXCTRL, R.RXCTRL_RXEN);
    // Every descriptor but one gets an mbuf (head = tail means empty).
    for (let i = 0; i < RING_ENTRIES - 1; i++) this.postRx(i);
    this.rxPost = RING_ENTRIES - 1;
    this.wr(cpu, R.rdt(q), this.rxPost);
  }

  private allocMbuf(): number {
    if (this.nFree === 0) return -1;
    const m = this.freeMbufs[--this.nFree]!;
    this.mbufRefs[m] = 0;
    return m;
  }

  private freeMbuf(m: number): void {
    this.freeMbufs[this.nFree++] = m;
  }

  /** Flows with a handle (accepted or dialled, not yet closed by the application). */
  get flowsOpen(): number {
    let n = 0;
    for (const f of this.flows) if (f !== undefined) n++;
    return n;
  }

  /** Free mbufs in the pool. */
  get mbufsFree(): number {
    return this.nFree;
  }

  /** mbufs neither free nor on the RX ring: held by the application (until recv_done or close), or lost. */
  get mbufsHeld(): number {
    return MBUFS - this.nFree - (RING_ENTRIES - 1 - this.rxUnposted);
  }

  private postRx(i: number): boolean {
    const m = this.allocMbuf();
    if (m < 0) return false;
    this.rxMbuf[i] = m;
    const buf = this.pa(REGION.mbufs + m * MBUF_DATA_LEN);
    const d = this.pa(REGION.rxRing + i * DESC);
    this.dv.setUint32(d, buf >>> 0, true);
    this.dv.setUint32(d + 4, Math.floor(buf / TWO_32), true);
    this.dv.setUint32(d + 8, 0, true);
    this.dv.setUint32(d + 12, 0, true);
    this.cpu.charge(4 * this.instr);
    return true;
  }

  // --- NetTimers: the dataplane's clock is its core's cycle clock; timers run in step 5 of the loop.
  now(): number {
    return (this.cpu.cycles / this.machine.costs.clockHz) * 1e9;
  }

  schedule(atNs: number, fire: () => void): number {
    const id = this.timerId++;
    this.timers.push({ at: atNs, fire, id });
    if (atNs < this.nextTimerAt) this.nextTimerAt = atNs;
    return id;
  }

  cancel(handle: number): void {
    const i = this.timers.findIndex((t) => t.id === handle);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Step 5 of the loop: the timers that are due (the earliest deadline is kept, so a pass with none due costs a compare). */
  private runTimers(): void {
    const now = this.now();
    if (now < this.nextTimerAt) return;
    const due = this.timers.filter((t) => t.at <= now);
    this.timers = this.timers.filter((t) => t.at > now);
    this.nextTimerAt = Infinity;
    for (const t of this.timers) if (t.at < this.nextTimerAt) this.nextTimerAt = t.at;
    for (const t of due) t.fire();
  }

  // --- NetDevice: frames the stack sends go on the TX ring; the tail is written once per loop.
  transmit(frame: Uint8Array): boolean {
    const next = (this.txNext + 1) % RING_ENTRIES;
    if (next === this.txClean || frame.length > MBUF_DATA_LEN) {
      this.txStopped = true;
      return false;
    }
    const i = this.txNext;
    const buf = this.pa(REGION.txBuffers + i * MBUF_DATA_LEN);
    this.u8.set(frame, buf);
    const d = this.pa(REGION.txRing + i * DESC);
    // IX sends from the application's buffer with the headers in an mbuf: the CPU writes the
    // descriptor and the header line; the NIC's DMA reads the rest.
    this.llc?.touch(this.cpu, d, DESC);
    this.llc?.touch(this.cpu, buf, Math.min(frame.length, HEADER_LINE));
    this.dv.setUint32(d, buf >>> 0, true);
    this.dv.setUint32(d + 4, Math.floor(buf / TWO_32), true);
    this.dv.setUint32(d + 8, (frame.length | R.TXD_DTYP_DATA | R.TXD_CMD_DEXT | R.TXD_CMD_IFCS | R.TXD_CMD_EOP | R.TXD_CMD_RS) >>> 0, true);
    this.dv.setUint32(d + 12, frame.length << 14, true);
    this.txNext = next;
    this.txPending++;
    this.counters.txPackets++;
    this.cpu.charge((IX_COSTS.txPacket + 4) * this.instr);
    return true;
  }

  private reclaimTx(): void {
    let freed = 0;
    while (this.txClean !== this.txNext) {
      const d = this.pa(REGION.txRing + this.txClean * DESC);
      this.llc?.touch(this.cpu, d, DESC);
      if ((this.dv.getUint32(d + 12, true) & R.TXD_STAT_DD) === 0) break;
      this.txClean = (this.txClean + 1) % RING_ENTRIES;
      freed++;
    }
    this.cpu.charge((freed + 1) * this.instr);
    if (freed > 0 && this.txStopped) {
      this.txStopped = false;
      this.stack.transmitReady(this);
    }
  }

  // --- Events.
  private event(type: number, handle: number, cookie: number, a: number, b: number): void {
    if (this.nEvents >= MAX_EVENTS) {
      // The array is full (a batch of many accepts, each with data that came before it): the
      // rest wait for the next bpoll, in order.
      this.overflow.push(type, handle, cookie, a, b);
      return;
    }
    const at = this.pa(REGION.events + this.nEvents * EVENT_SIZE);
    this.put64(at, type);
    this.put64(at + 8, handle);
    this.put64(at + 16, cookie);
    this.put64(at + 24, a);
    this.put64(at + 32, b);
    this.nEvents++;
    this.counters.events++;
    this.cpu.charge(IX_COSTS.event * this.instr);
  }

  /** A 64-bit word from a number (negative ones in two's complement: return codes). */
  private put64(pa: number, v: number): void {
    this.dv.setUint32(pa, v >>> 0, true);
    this.dv.setUint32(pa + 4, v < 0 ? 0xffffffff : Math.floor(v / TWO_32) >>> 0, true);
  }

  private handleOf(idx: number): number {
    return this.flows[idx]!.gen * 0x1_0000 + idx;
  }

  private flowOf(handle: number): Flow | undefined {
    const idx = handle % 0x1_0000;
    const f = this.flows[idx];
    if (f === undefined || f.gen !== Math.floor(handle / 0x1_0000)) return undefined;
    return f;
  }

  private newFlow(sock: TcpSocket, accepted: boolean, cookie: number): number {
    let idx = this.freeFlows.pop();
    if (idx === undefined) {
      if (this.flows.length >= this.maxFlows) return -1;
      idx = this.flows.length;
      this.flows.push(undefined);
    }
    const gen = ((this.genOf[idx] ?? 0) + 1) & 0x7fff;
    this.genOf[idx] = gen;
    const f: Flow = { sock, gen, cookie, accepted, held: 0, mbufs: [], bytes: [], early: [], sent: 0, acked: 0, dead: false, connecting: !accepted };
    this.flows[idx] = f;
    const handle = gen * 0x1_0000 + idx;
    sock.onWake = (ev) => this.wake(handle, f, ev);
    return handle;
  }

  private readonly genOf: number[] = [];

  private knock(): void {
    for (;;) {
      const s = this.listener.accept();
      if (typeof s === 'number') return;
      s.noDelay = true;
      const h = this.newFlow(s, false, 0);
      if (h < 0) {
        this.counters.flowsRefused++;
        s.abort();
        continue;
      }
      this.flowOf(h)!.connecting = false;
      const peer = s.remoteAddr;
      this.event(USYS_TCP_KNOCK, h, 0, peer, s.remotePort);
    }
  }

  /** What the TCP stack reports on a flow: new in-order data (RECV), acknowledged bytes (SENT), the end (DEAD). */
  private wake(handle: number, f: Flow, ev: number): void {
    const s = f.sock;
    if (f.connecting && (s.state === TCP_ESTABLISHED || (ev & POLLERR) !== 0)) {
      f.connecting = false;
      f.accepted = true;
      this.event(USYS_TCP_CONNECTED, handle, f.cookie, s.state === TCP_ESTABLISHED ? RET_OK : -RET_CONNREFUSED, 0);
      if (s.state !== TCP_ESTABLISHED) f.dead = true;
      return;
    }
    const fresh = s.available() - f.held - this.earlyBytes(f);
    if (fresh > 0 && this.curMbuf >= 0) {
      const m = this.curMbuf;
      const addr = this.regionVa + REGION.mbufs + m * MBUF_DATA_LEN + this.curPayloadEnd - fresh;
      this.mbufRefs[m]!++;
      f.mbufs.push(m);
      f.bytes.push(fresh);
      if (f.accepted) {
        f.held += fresh;
        this.event(USYS_TCP_RECV, handle, f.cookie, addr, fresh);
      } else {
        f.early.push(addr, fresh);
      }
    }
    this.reportSent(handle, f);
    if (!f.dead && (ev & (POLLERR | POLLHUP | POLLRDHUP)) !== 0) {
      f.dead = true;
      if (f.accepted) this.event(USYS_TCP_DEAD, handle, f.cookie, 0, 0);
    }
  }

  /** SENT: the bytes the peer acknowledged since the last report, and the send window. */
  private reportSent(handle: number, f: Flow): void {
    const acked = f.sent - f.sock.unacknowledged();
    if (acked > f.acked && f.accepted) {
      this.event(USYS_TCP_SENT, handle, f.cookie, acked - f.acked, f.sock.info().sndWnd);
      f.acked = acked;
    }
    if (f.acked === f.sent) this.sending.delete(handle);
  }

  private checkSent(): void {
    if (this.sending.size === 0) return;
    for (const h of this.sending) {
      const f = this.flowOf(h);
      this.cpu.charge(this.instr);
      if (f === undefined) this.sending.delete(h);
      else this.reportSent(h, f);
    }
  }

  private earlyBytes(f: Flow): number {
    let n = 0;
    for (let i = 1; i < f.early.length; i += 2) n += f.early[i]!;
    return n;
  }

  // --- The application's pointers.
  /** Whether [va, va+len) is mapped user-accessible (and writable if asked) in the guest's page tables, with its host pages present. */
  private userOk(va: number, len: number, write: boolean): boolean {
    this.cpu.charge(IX_COSTS.userCheck * this.instr);
    if (!Number.isSafeInteger(va) || !Number.isSafeInteger(len) || va < 0x1000 || len < 0 || va + len > 0x7fff_ffff_f000) return false;
    if (va < this.regionVa + REGION.size && va + len > this.regionVa && !(va >= this.regionVa + REGION.calls && va + len <= this.regionVa + REGION.events)) {
      // Inside the dataplane's region only the calls array is the application's to write.
      if (write) return false;
    }
    const mmu = this.cpu.mmu;
    for (let p = Math.floor(va / 4096) * 4096; p < va + len; p += 4096) {
      const w = mmu.debugWalk(p);
      if (!w.ok || w.pa < 0 || (w.leafLo & PTE_P) === 0 || (w.leafLo & PTE_U) === 0) return false;
      if (write && (w.leafLo & PTE_W) === 0) return false;
    }
    return true;
  }

  private userPa(va: number): number {
    const w = this.cpu.mmu.debugWalk(va);
    return w.pa;
  }

  private readUser64(va: number): number {
    const pa = this.userPa(va);
    return this.dv.getUint32(pa, true) + this.dv.getUint32(pa + 4, true) * TWO_32;
  }

  private writeUser64(va: number, v: number): void {
    this.put64(this.userPa(va), v);
  }

  /** Copies user bytes (already checked) into the scratch buffer at `off`. */
  private readUserBytes(va: number, len: number, off: number): void {
    let done = 0;
    while (done < len) {
      const a = va + done;
      const n = Math.min(len - done, 4096 - (a & 0xfff));
      const pa = this.userPa(a);
      this.scratch.set(this.u8.subarray(pa, pa + n), off + done);
      done += n;
    }
  }

  // --- The batched calls.
  /** Runs a batch; 0, or the RET_* code for a batch refused as a whole (nothing of it was run). */
  private runCalls(karr: number, n: number): number {
    if (n === 0) return 0;
    if (!Number.isSafeInteger(n) || n < 0 || n > BSYS_MAX) {
      this.counters.badBatches++;
      return RET_INVAL;
    }
    if (!this.userOk(karr, n * BSYS_DESC_SIZE, true)) {
      this.counters.badBatches++;
      return RET_FAULT;
    }
    this.counters.calls += n;
    this.callBatchHistogram[n]!++;
    for (let i = 0; i < n; i++) {
      const d = karr + i * BSYS_DESC_SIZE;
      const nr = this.readUser64(d);
      const a = this.readUser64(d + 8);
      const b = this.readUser64(d + 16);
      const c = this.readUser64(d + 24);
      this.cpu.charge(IX_COSTS.call * this.instr);
      let cookie = 0;
      let ret: number;
      switch (nr) {
        case KSYS_TCP_ACCEPT: {
          const f = this.flowOf(a);
          if (f === undefined || f.accepted) ret = -RET_BADH;
          else {
            f.accepted = true;
            f.cookie = b;
            cookie = b;
            ret = RET_OK;
            for (let k = 0; k < f.early.length; k += 2) {
              f.held += f.early[k + 1]!;
              this.event(USYS_TCP_RECV, a, b, f.early[k]!, f.early[k + 1]!);
            }
            f.early.length = 0;
            if (f.dead) this.event(USYS_TCP_DEAD, a, b, 0, 0);
          }
          break;
        }
        case KSYS_TCP_SENDV:
          ret = this.sendv(a, b, c);
          cookie = this.flowOf(a)?.cookie ?? 0;
          break;
        case KSYS_TCP_RECV_DONE:
          ret = this.recvDone(a, b);
          cookie = this.flowOf(a)?.cookie ?? 0;
          break;
        case KSYS_TCP_CLOSE: {
          const f = this.flowOf(a);
          if (f === undefined) ret = -RET_BADH;
          else {
            cookie = f.cookie;
            this.closeFlow(a, f);
            ret = RET_OK;
          }
          break;
        }
        case KSYS_TCP_CONNECT:
          ret = this.connect(a, b, c);
          cookie = c;
          break;
        default:
          ret = -RET_NOSYS;
      }
      if (ret < 0) this.counters.callErrors++;
      this.writeUser64(d + 8, cookie);
      this.writeUser64(d + 16, ret);
    }
    return 0;
  }

  private sendv(handle: number, sg: number, n: number): number {
    const f = this.flowOf(handle);
    if (f === undefined || !f.accepted) return -RET_BADH;
    if (f.dead) return -RET_CLOSED;
    if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_SG_ENTRIES) return -RET_INVAL;
    if (!this.userOk(sg, n * SG_ENTRY_SIZE, false)) return -RET_FAULT;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const base = this.readUser64(sg + i * SG_ENTRY_SIZE);
      const len = this.readUser64(sg + i * SG_ENTRY_SIZE + 8);
      if (len > this.scratch.length) return total > 0 ? total : -RET_INVAL;
      if (!this.userOk(base, len, false)) return total > 0 ? total : -RET_FAULT;
      this.readUserBytes(base, len, 0);
      const r = f.sock.send(this.scratch.subarray(0, len));
      if (r < 0) return total > 0 ? total : -RET_NOBUFS;
      total += r;
      f.sent += r;
      if (r < len) break;
    }
    if (total > 0) this.sending.add(handle);
    return total;
  }

  private recvDone(handle: number, len: number): number {
    const f = this.flowOf(handle);
    if (f === undefined || !f.accepted) return -RET_BADH;
    if (!Number.isSafeInteger(len) || len < 0 || len > f.held) return -RET_INVAL;
    // The window opens by what the application gives back (the copy into scratch is the
    // simulator's bookkeeping of TCP's receive queue, not a copy IX makes).
    for (let left = len; left > 0;) {
      const r = f.sock.recv(this.scratch.subarray(0, Math.min(left, this.scratch.length)));
      if (r <= 0) break;
      left -= r;
    }
    f.held -= len;
    let left = len;
    while (left > 0 && f.bytes.length > 0) {
      const take = Math.min(left, f.bytes[0]!);
      f.bytes[0]! -= take;
      left -= take;
      if (f.bytes[0] === 0) {
        const m = f.mbufs.shift()!;
        f.bytes.shift();
        if (--this.mbufRefs[m]! === 0) this.freeMbuf(m);
      }
    }
    return RET_OK;
  }

  private closeFlow(handle: number, f: Flow): void {
    for (const m of f.mbufs) if (--this.mbufRefs[m]! === 0) this.freeMbuf(m);
    f.mbufs.length = 0;
    f.bytes.length = 0;
    f.sock.onWake = null;
    if (f.sock.available() > 0 || f.dead) f.sock.abort();
    else f.sock.close();
    const idx = handle % 0x1_0000;
    this.sending.delete(handle);
    this.flows[idx] = undefined;
    this.freeFlows.push(idx);
  }

  private connect(ip: number, port: number, cookie: number): number {
    if (!Number.isSafeInteger(ip) || ip < 0 || ip > 0xffff_ffff || !Number.isSafeInteger(port) || port <= 0 || port > 0xffff) return -RET_INVAL;
    const s = this.stack.tcpSocket();
    s.noDelay = true;
    if (!this.bindProbed(s, ip, port)) return -RET_NOBUFS;
    const h = this.newFlow(s, false, cookie);
    if (h < 0) {
      s.close();
      return -RET_NOBUFS;
    }
    const r = s.connect(ip, port);
    if (r !== -EINPROGRESS && r !== 0) {
      this.closeFlow(h, this.flowOf(h)!);
      return -RET_INVAL;
    }
    return h;
  }

  /**
   * IX §4.4: the Toeplitz hash cannot be inverted, so an outbound connection tries ephemeral
   * ports, from where the last search stopped, until the hash of the 4-tuple as the NIC will see
   * it on the replies (peer address and port as the source) falls in a flow group of this core
   * and the port is free here. With flow groups spread evenly that takes about as many probes as
   * there are cores. False when no port of the range qualifies.
   */
  private bindProbed(s: TcpSocket, ip: number, port: number): boolean {
    const local = this.stack.interfaces[0]!.address;
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    this.counters.dials++;
    for (let k = 0; k < span; k++) {
      const p = this.probeCursor;
      this.probeCursor = p === EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1;
      this.counters.dialProbes++;
      this.cpu.charge(IX_COSTS.probe * this.instr);
      const group = this.toeplitz.ipv4Tcp(ip >>> 0, local, port, p) & (RETA_ENTRIES - 1);
      if (this.flowGroups[group] !== this.queue) continue;
      if (s.bind(0, p) === 0) return true;
    }
    return false;
  }

  /**
   * Set by the control plane (IxSetupHandler) when the owner's address space dropped or changed
   * the region's pages and it switched this thread's queue pair off.
   */
  stopped = false;

  // --- Receive: at most B packets per pass.
  private pollRx(): number {
    let taken = 0;
    while (taken < this.batch) {
      const i = this.rxNext;
      const d = this.pa(REGION.rxRing + i * DESC);
      this.llc?.touch(this.cpu, d, DESC);
      const staterr = this.dv.getUint32(d + 8, true);
      this.cpu.charge(this.instr);
      if ((staterr & R.RXD_STAT_DD) === 0) break;
      const len = this.dv.getUint32(d + 12, true) & 0xffff;
      const m = this.rxMbuf[i]!;
      this.mbufRefs[m] = 0;
      const pa = this.pa(REGION.mbufs + m * MBUF_DATA_LEN);
      const frame = this.u8.subarray(pa, pa + Math.min(len, MBUF_DATA_LEN));
      // The stack reads the headers; the payload is mapped to ring 3 unread (zero copy), and
      // what the application reads of it is its own instructions.
      this.llc?.touch(this.cpu, pa, Math.max(1, Math.min(len, HEADER_LINE)));
      this.curMbuf = m;
      this.curPayloadEnd = frame.length >= 18 ? 14 + ((frame[16]! << 8) | frame[17]!) : frame.length;
      this.cpu.charge(IX_COSTS.rxPacket * this.instr);
      if (frame.length >= 14 && ((frame[12]! << 8) | frame[13]!) === ETH_P_ARP) this.shareArp(frame);
      this.stack.receive(this, frame);
      this.curMbuf = -1;
      if (this.mbufRefs[m] === 0) this.freeMbuf(m);
      this.rxMbuf[i] = -1;
      this.rxNext = (i + 1) % RING_ENTRIES;
      this.rxUnposted++;
      taken++;
    }
    this.counters.rxPackets += taken;
    if (taken > this.counters.maxRxBatch) this.counters.maxRxBatch = taken;
    this.rxBatchHistogram[taken]!++;
    // Replenish in groups of RDT_THRESH (PCIe write coalescing on RX, IX §6).
    if (this.rxUnposted >= RDT_THRESH) {
      let posted = 0;
      while (posted < this.rxUnposted && this.postRx(this.rxPost)) {
        this.rxPost = (this.rxPost + 1) % RING_ENTRIES;
        posted++;
      }
      this.rxUnposted -= posted;
      if (posted > 0) {
        this.wr(this.cpu, R.rdt(this.queue), this.rxPost);
        this.counters.rdtWrites++;
      }
    }
    return taken;
  }

  /** An ARP frame for the shared neighbour table: each sibling core applies it at its next pass. */
  private shareArp(frame: Uint8Array): void {
    for (const p of this.peers) if (p !== this) p.arpInbox.push(frame.slice());
  }

  private takeSharedArp(): void {
    while (this.arpInbox.length > 0) {
      const f = this.arpInbox.shift()!;
      this.counters.arpShared++;
      this.cpu.charge(IX_COSTS.rxPacket * this.instr);
      this.stack.receive(this, f);
    }
  }

  /**
   * SYS_BPOLL, the native: rdi = the batch array, rsi = its length. Returns in rax the number
   * of events, or -RET_FAULT / -RET_INVAL for a batch it refused as a whole. With nothing to
   * report it polls again (the native jumps to itself), one loop per execution.
   */
  bpoll(cpu: Cpu): void {
    this.cpu = cpu;
    this.counters.loops++;
    cpu.charge(IX_COSTS.loop * this.instr);
    if (this.arpInbox.length > 0) this.takeSharedArp();
    let calls = 0;
    if (!this.spinning) {
      this.nEvents = 0;
      if (this.overflow.length > 0) {
        const held = this.overflow.splice(0, this.overflow.length);
        for (let i = 0; i < held.length; i += 5) this.event(held[i]!, held[i + 1]!, held[i + 2]!, held[i + 3]!, held[i + 4]!);
      }
      this.reclaimTx();
      const n = cpu.reg(RSI);
      const refused = this.runCalls(cpu.reg(RDI), n);
      if (refused !== 0) {
        cpu.setReg64(RAX, -refused >>> 0, 0xffffffff);
        this.flushTx();
        this.counters.bpolls++;
        return;
      }
      calls = n;
    } else {
      this.counters.idlePolls++;
      this.reclaimTx();
    }
    this.runTimers();
    this.pollRx();
    this.checkSent();
    this.flushTx();
    if (this.nEvents === 0 && calls === 0) {
      this.spinning = true;
      cpu.jump(this.entry);
      return;
    }
    this.spinning = false;
    this.counters.bpolls++;
    cpu.setReg64(RAX, this.nEvents, 0);
  }

  private flushTx(): void {
    if (this.txPending === 0) return;
    this.wr(this.cpu, R.tdt(this.queue), this.txNext);
    this.counters.tailWrites++;
    this.txPending = 0;
  }
}
