import { injectable } from 'inversify';
import type { VmExitHandler, VmExitInfo } from '../../core/framework/vm-exit-handler.js';
import type { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import * as R from '../../core/vtx/devices/nic-registers.js';
import type { DuneModule } from '../../core/dune/dune-module.js';
import type { Kernel } from '../../core/linux/kernel.js';
import type { Process } from '../../core/linux/task.js';
import { EBUSY, EFAULT, EINVAL } from '../../core/linux/linux-abi.js';
import { RAX, RDI, RSI } from '../../core/vtx/cpu.js';
import { EPT_MT_SHIFT } from '../../core/vtx/arch.js';
import { switchOffQueuePair } from '../../core/vtx/devices/switch-off-queue-pair.js';
import {
  CTL_MACS, CTL_MAGIC, CTL_PAGE_PA, CTL_QUEUE, CTL_TSC_KHZ, DSM_ETHERTYPE, DSM_ETQF_FILTER, DSM_MAX_NODES, DSM_NIC_BUF,
  DSM_NIC_MAGIC, DSM_NIC_QUEUE, DSM_NIC_REGION, DSM_NIC_RING, DSM_VMCALL_NIC_SETUP, RX_TAIL_PAGE, TX_TAIL_PAGE,
} from './dsm-nic-abi.js';

const VMCALL = 18;
const PAGE = 4096;
const TWO_32 = 0x1_0000_0000;
const DESC = 16;
/** EPT leaf R|W, memory type UC (0): device registers are never cached. */
const EPT_RW_UC = 1 | 2 | (0 << EPT_MT_SHIFT);

/**
 * The host's side of the DSM NIC path on one node (Linux in VMX root, acting as IX's control
 * plane does for a dataplane): the hypercall by which a DSM process inside Dune gets a queue pair
 * of the node's 82599. The process prepares a region of its memory (pages present); the handler
 * translates its pages to host-physical addresses (which the driver puts in descriptors, as IX's
 * pagemap look-ups do), programs the queue's rings there with interrupts left unassigned (IVAR not
 * valid: the queue raises no interrupt, the driver polls), steers the DSM EtherType to the queue
 * with an ETQF filter, and maps the two BAR0 pages that hold the queue's RDT and TDT into the
 * vCPU's EPT past the layout's windows, uncached. The guest-physical address of that window is
 * the return value; afterwards the driver runs without exits. When the process exits the queue is
 * switched off and the filter removed, so the NIC never writes into memory the process gave back.
 * Only guest ring 0 may ask; from ring 3 the VMCALL is left to the module (an unknown call).
 */
@injectable()
export class DsmNicSetupHandler implements VmExitHandler {
  readonly reasons = [VMCALL];
  setups = 0;
  private owner: Process | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly nic: Nic82599,
    private readonly bar0: number,
    /** The MAC of every node's port (the cluster's neighbour table), indexed by node. */
    private readonly macs: readonly Uint8Array[],
    private readonly dune: () => DuneModule,
  ) {
    const previous = kernel.onProcessExit;
    kernel.onProcessExit = (p) => {
      if (p === this.owner) this.teardown();
      previous?.(p);
    };
  }

  handle(exit: VmExitInfo): boolean {
    const r = exit.regs;
    if (r.get(RAX) !== DSM_VMCALL_NIC_SETUP || exit.guestCpl !== 0) return false;
    this.setups++;
    exit.skipInstruction();
    r.set(RAX, this.setup(exit));
    return true;
  }

  private setup(exit: VmExitInfo): number {
    const va = exit.regs.get(RDI);
    const node = exit.regs.get(RSI);
    if (!Number.isSafeInteger(va) || va <= 0 || va % PAGE !== 0 || !(node >= 0 && node < this.macs.length)) return -EINVAL;
    if (this.owner !== undefined) return -EBUSY; // one DSM queue per port
    const vcpu = [...this.dune().vcpus].find((v) => v.task === exit.task);
    if (vcpu === undefined) return -EINVAL;
    const cpu = exit.cpu;
    const pages: number[] = [];
    for (let off = 0; off < DSM_NIC_REGION.size; off += PAGE) {
      const w = cpu.mmu.debugWalk(va + off);
      if (!w.ok || w.pa < 0 || w.pa + PAGE > this.kernel.machine.mem.size || (w.leafLo & 2) === 0) return -EFAULT;
      pages.push(w.pa - (w.pa % PAGE));
    }
    const mem = this.kernel.machine.mem;
    const ctl = pages[0]!;
    mem.write32(ctl + CTL_MAGIC, DSM_NIC_MAGIC);
    mem.write32(ctl + CTL_QUEUE, DSM_NIC_QUEUE);
    const khz = Math.round(this.kernel.machine.costs.clockHz / 1000);
    mem.write64(ctl + CTL_TSC_KHZ, khz % TWO_32, Math.floor(khz / TWO_32));
    for (let i = 0; i < DSM_MAX_NODES; i++) {
      for (let b = 0; b < 8; b++) mem.write8(ctl + CTL_MACS + 8 * i + b, b < 6 && i < this.macs.length ? this.macs[i]![b]! : 0);
    }
    pages.forEach((pa, i) => mem.write64(ctl + CTL_PAGE_PA + 8 * i, pa % TWO_32, Math.floor(pa / TWO_32)));
    this.program(exit, pages);
    // The register window: two pages of BAR0, past every guest-physical address the layout uses.
    const gpa = this.dune().layout.physLimit;
    vcpu.ept.map(gpa, this.bar0 + RX_TAIL_PAGE, EPT_RW_UC);
    vcpu.ept.map(gpa + PAGE, this.bar0 + TX_TAIL_PAGE, EPT_RW_UC);
    const owner = exit.task.process;
    this.owner = owner;
    // The NIC writes into the region's frames by physical address: when the owner's address space
    // unmaps or changes any of it (munmap, exec, exit: the MMU-notifier chain), the queue goes
    // first, so no DMA lands in a frame the allocator may give to someone else.
    owner.mm.onRangeChange(va, va + DSM_NIC_REGION.size, () => {
      if (this.owner === owner) this.teardown();
    });
    return gpa;
  }

  /** The queue pair, as ixgbe's ring set-up would program it, with its interrupt unassigned. */
  private program(exit: VmExitInfo, pages: readonly number[]): void {
    const q = DSM_NIC_QUEUE;
    const pa = (off: number): number => pages[Math.floor(off / PAGE)]! + (off % PAGE);
    const wr = (reg: number, v: number): void => {
      this.nic.write(reg, 4, v >>> 0);
      exit.cpu.cycles += this.kernel.machine.costs.mmioWrite;
    };
    const rx = pa(DSM_NIC_REGION.rxRing), tx = pa(DSM_NIC_REGION.txRing);
    wr(R.rxdctl(q), 0);
    wr(R.txdctl(q), 0);
    // IVAR: the queue's RX and TX bytes not valid, so it causes no interrupt.
    const ivar = this.nic.regs[R.ivar(q >>> 1) >>> 2]!;
    const shift = (q & 1) * 16;
    wr(R.ivar(q >>> 1), (ivar & ~(0xffff << shift)) >>> 0);
    wr(R.rdbal(q), rx % TWO_32);
    wr(R.rdbah(q), Math.floor(rx / TWO_32));
    wr(R.rdlen(q), DSM_NIC_RING * DESC);
    wr(R.rdh(q), 0);
    wr(R.rdt(q), 0);
    // DROP_EN: a full DSM ring drops its own frames instead of holding up the kernel's queue.
    wr(R.srrctl(q), (DSM_NIC_BUF >>> 10) | R.SRRCTL_DESCTYPE_ADV_ONEBUF | R.SRRCTL_DROP_EN);
    wr(R.rxdctl(q), R.XDCTL_ENABLE);
    wr(R.tdbal(q), tx % TWO_32);
    wr(R.tdbah(q), Math.floor(tx / TWO_32));
    wr(R.tdlen(q), DSM_NIC_RING * DESC);
    wr(R.tdh(q), 0);
    wr(R.tdt(q), 0);
    wr(R.txdctl(q), R.XDCTL_ENABLE);
    wr(R.etqs(DSM_ETQF_FILTER), R.ETQS_QUEUE_EN | (q << R.ETQS_RX_QUEUE_SHIFT));
    wr(R.etqf(DSM_ETQF_FILTER), R.ETQF_FILTER_EN | DSM_ETHERTYPE);
  }

  /** The owner exited (or was killed): the filter off, the queue disabled, its rings forgotten. */
  private teardown(): void {
    const q = DSM_NIC_QUEUE;
    this.nic.write(R.etqf(DSM_ETQF_FILTER), 4, 0);
    this.nic.write(R.etqs(DSM_ETQF_FILTER), 4, 0);
    switchOffQueuePair(this.nic, q);
    this.owner = undefined;
  }
}
