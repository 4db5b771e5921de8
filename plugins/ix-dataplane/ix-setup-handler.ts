import { injectable } from 'inversify';
import type { VmExitHandler, VmExitInfo } from '../../core/framework/vm-exit-handler.js';
import type { Nic82599 } from '../../core/vtx/devices/nic-82599.js';
import type { Machine } from '../../core/vtx/machine.js';
import { EBUSY, EFAULT, EINVAL } from '../../core/linux/linux-abi.js';
import { DEFAULT_BATCH, IX_VMCALL_SETUP, REGION } from './ix-abi.js';
import { RAX, RDI, RSI } from '../../core/vtx/cpu.js';
import { ElasticThread } from './elastic-thread.js';

const VMCALL = 18;
const RET = 0xc3;

/**
 * The control plane's side of IX on one machine (Linux in VMX root, IXCP's allocation of a core
 * and a queue): the hypercall by which a thread in guest ring 0 becomes an elastic thread. It
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
  setups = 0;

  constructor(
    private readonly machine: Machine,
    private readonly nic: Nic82599,
    private readonly address: number,
    private readonly port: number,
    private readonly mac: Uint8Array,
  ) {}

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
    if (this.threads.length >= 1) return -EBUSY; // one queue pair per elastic thread; this model has one
    const cpu = exit.cpu;
    const pages: number[] = [];
    for (let off = 0; off < REGION.size; off += 4096) {
      const w = cpu.mmu.debugWalk(va + off);
      if (!w.ok || w.pa < 0) return -EFAULT;
      pages.push(w.pa);
    }
    const t = new ElasticThread(this.machine, this.nic, this.threads.length, va, pages, batch, this.address, this.port, cpu, this.mac);
    const natives = this.machine.natives;
    const entry = natives.register(`ix:bpoll:${t.queue}`, (c) => t.bpoll(c), 1, 0);
    natives.install(this.machine.mem, pages[0]!, entry);
    this.machine.mem.write8(pages[0]! + 7, RET);
    t.entry = va + REGION.entry;
    t.init(cpu);
    this.threads.push(t);
    return t.entry;
  }
}
