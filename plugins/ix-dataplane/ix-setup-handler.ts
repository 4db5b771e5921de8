import { injectable } from 'inversify';
import type { VmExitHandler, VmExitInfo } from '../../core/framework/vm-exit-handler.js';
import type { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import type { Machine } from '../../core/vtx/machine.js';
import { EBUSY, EFAULT, EINVAL } from '../../core/linux/linux-abi.js';
import { DEFAULT_BATCH, IX_VMCALL_SETUP, REGION } from './ix-abi.js';
import { RAX, RDI, RSI } from '../../core/vtx/cpu.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { DEFAULT_MAX_FLOWS, ElasticThread, MAX_FLOWS_LIMIT } from './elastic-thread.js';
import type { Task } from '../../core/linux/task.js';
import { RETA_ENTRIES } from '../../core/vtx/devices/rss-redirection.js';
import * as R from '../../core/vtx/devices/nic-registers.js';
import { switchOffQueuePair } from '../../core/vtx/devices/switch-off-queue-pair.js';

const VMCALL = 18;
const RET = 0xc3;

/**
 * The control plane's side of IX on one machine (Linux in VMX root, IXCP's allocation of a core
 * and a queue): the hypercall by which a thread in guest ring 0 becomes an elastic thread, one
 * per core, each with the next queue pair of the port. It also owns the flow groups: the 128
 * RSS redirection entries, spread over the elastic threads round robin each time one is added
 * (IX's control plane moves flow groups between cores the same way). It
 * takes the region libix prepared (its pages present, 2 MiB aligned), gives the thread the NIC's
 * queue pair (programmed with the region's host-physical addresses, as IX's pagemap look-ups
 * do), and installs the dataplane's entry — a ring-0 native bound to the region's first page,
 * followed by a RET — whose address it returns. After that the dataplane runs without exits.
 * Only guest ring 0 may ask; from ring 3 the VMCALL is left to the module (an unknown call).
 */
@injectable()
export class IxSetupHandler implements VmExitHandler {
  readonly reasons = [VMCALL];
  readonly threads: ElasticThread[] = [];
  /** Flow group (RETA entry) → the queue, i.e. the elastic thread, that owns it. */
  readonly flowGroups = new Uint8Array(RETA_ENTRIES);
  setups = 0;
  private readonly owners = new Set<Task>();

  constructor(
    private readonly machine: Machine,
    private readonly nic: Nic82599,
    private readonly address: number,
    private readonly port: number,
    private readonly mac: Uint8Array,
    /** Elastic threads (cores, queue pairs) this dataplane may have: the cores the control plane gave it. */
    readonly maxThreads = 1,
    /** Each elastic thread's flow table (ElasticThread.maxFlows). */
    readonly maxFlows = DEFAULT_MAX_FLOWS,
  ) {
    if (!Number.isInteger(maxThreads) || maxThreads < 1 || maxThreads > R.NIC_QUEUES) throw new RangeError(`ix: ${maxThreads} elastic threads (1 to ${R.NIC_QUEUES} queue pairs)`);
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > MAX_FLOWS_LIMIT) throw new RangeError(`ix: a flow table of ${maxFlows} flows (1 to ${MAX_FLOWS_LIMIT}: a handle's index is 16 bits)`);
  }

  handle(exit: VmExitInfo): boolean {
    const r = exit.regs;
    if (r.get(RAX) !== IX_VMCALL_SETUP || exit.guestCpl !== 0) return false;
    this.setups++;
    exit.skipInstruction();
    r.set(RAX, this.setup(exit));
    return true;
  }

  private setup(exit: VmExitInfo): number {
    const va = exit.regs.get(RDI);
    const batch = exit.regs.get(RSI) === 0 ? DEFAULT_BATCH : exit.regs.get(RSI);
    if (!Number.isSafeInteger(va) || va <= 0 || va % 0x20_0000 !== 0 || !(batch >= 1 && batch <= 1024)) return -EINVAL;
    // One queue pair per elastic thread, one elastic thread per task, regions that do not overlap.
    if (this.threads.length >= this.maxThreads || this.owners.has(exit.task)) return -EBUSY;
    if (this.threads.some((t) => va < t.regionVa + REGION.size && t.regionVa < va + REGION.size)) return -EBUSY;
    const cpu = exit.cpu;
    const pages: number[] = [];
    for (let off = 0; off < REGION.size; off += 4096) {
      const w = cpu.mmu.debugWalk(va + off);
      if (!w.ok || w.pa < 0) return -EFAULT;
      pages.push(w.pa);
    }
    const t = new ElasticThread(this.machine, this.nic, this.threads.length, va, pages, batch, this.address, this.port, cpu, this.mac, this.maxFlows);
    const natives = this.machine.natives;
    const entry = natives.register(`ix:bpoll:${t.queue}`, (c) => t.bpoll(c), 1, 0);
    natives.install(this.machine.mem, pages[0]!, entry);
    this.machine.mem.write8(pages[0]! + 7, RET);
    t.entry = va + REGION.entry;
    if (this.threads.length === 0) t.initPort(cpu);
    t.init(cpu);
    this.threads.push(t);
    this.owners.add(exit.task);
    // The NIC writes into the region's frames by physical address: when the owner's address space
    // unmaps or changes any of it (munmap, exec, exit: the MMU-notifier chain), the queue is
    // switched off first, so no DMA lands in a frame the allocator may give to someone else.
    exit.task.process.mm.onRangeChange(va, va + REGION.size, () => this.stopThread(t));
    for (const e of this.threads) {
      e.peers = this.threads;
      e.flowGroups = this.flowGroups;
    }
    this.assignFlowGroups(cpu);
    return t.entry;
  }

  /**
   * The control plane switches a thread's queue pair off, so the NIC neither writes frames into
   * nor reads descriptors from frames that are no longer the dataplane's. The entry native goes
   * with its frame (NativeCodeRegistry.releaseFrame). RSS may still steer flows to the queue: the
   * NIC drops them, as for any disabled queue.
   */
  private stopThread(t: ElasticThread): void {
    if (t.stopped) return;
    t.stopped = true;
    switchOffQueuePair(this.nic, t.queue);
  }

  /** Flow group g to thread g mod n, written to the RETA (four entries per register). */
  private assignFlowGroups(cpu: Cpu): void {
    const n = this.threads.length;
    for (let g = 0; g < RETA_ENTRIES; g++) this.flowGroups[g] = this.threads[g % n]!.queue;
    for (let r = 0; r < RETA_ENTRIES / 4; r++) {
      let v = 0;
      for (let b = 0; b < 4; b++) v |= this.flowGroups[4 * r + b]! << (8 * b);
      this.nic.write(R.reta(r), 4, v >>> 0);
      cpu.charge(this.machine.costs.mmioWrite);
    }
  }
}
