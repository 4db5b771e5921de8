import { RAX, type Cpu } from '../vtx/cpu.js';
import type { AddressSpace } from './address-space.js';
import { monotonicNs, nsToCycles, realtimeNs } from './clock.js';
import { PAGE_SIZE } from '../vtx/arch.js';
import { BLOCKED, type KernelTimer, type Kernel, type SyscallResult } from './kernel.js';
import {
  EAGAIN, EFAULT, EINTR, EINVAL, ENOSYS, ERESTARTSYS, ETIMEDOUT, FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME,
  FUTEX_CMD_MASK, FUTEX_CMP_REQUEUE, FUTEX_OP_ADD, FUTEX_OP_ANDN, FUTEX_OP_CMP_EQ, FUTEX_OP_CMP_GE,
  FUTEX_OP_CMP_GT, FUTEX_OP_CMP_LE, FUTEX_OP_CMP_LT, FUTEX_OP_CMP_NE, FUTEX_OP_OPARG_SHIFT, FUTEX_OP_OR,
  FUTEX_OP_SET, FUTEX_OP_XOR, FUTEX_OWNER_DIED, FUTEX_REQUEUE, FUTEX_TID_MASK, FUTEX_WAIT, FUTEX_WAITERS,
  FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP, MAP_SHARED, ROBUST_LIST_LIMIT,
} from './linux-abi.js';
import type { SyscallContext } from './syscall-table.js';
import type { Task } from './task.js';

/** A task asleep in FUTEX_WAIT (struct futex_q): its key, bitset, and how it ends. */
class FutexWaiter {
  woken = false;
  timedOut = false;
  timer: KernelTimer | undefined;
  constructor(
    readonly task: Task,
    public key: string,
    readonly bitset: number,
  ) {}
}

/**
 * The futex hash table (kernel/futex.c): wait queues by key, FIFO within a key. A key names the
 * futex word as get_futex_key does: in a private mapping (or with FUTEX_PRIVATE_FLAG) the
 * address space and the virtual address; in a shared mapping the physical page and offset, so
 * processes that map the same page at different addresses meet on one queue.
 */
export class FutexTable {
  private readonly queues = new Map<string, FutexWaiter[]>();

  /** Number of tasks waiting (for tests and reports: a dead task must leave none behind). */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  enqueue(w: FutexWaiter): void {
    let q = this.queues.get(w.key);
    if (q === undefined) this.queues.set(w.key, (q = []));
    q.push(w);
  }

  remove(w: FutexWaiter): void {
    const q = this.queues.get(w.key);
    if (q === undefined) return;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) this.queues.delete(w.key);
  }

  /** futex_wake: up to `n` waiters of `key` whose bitset meets `bitset`; returns how many. */
  wake(k: Kernel, key: string, n: number, bitset: number): number {
    const q = this.queues.get(key);
    if (q === undefined) return 0;
    let woken = 0;
    for (let i = 0; i < q.length && woken < n; ) {
      const w = q[i]!;
      if ((w.bitset & bitset) === 0) {
        i++;
        continue;
      }
      q.splice(i, 1);
      w.woken = true;
      if (w.timer !== undefined) k.cancelTimer(w.timer);
      k.wakeUp(w.task);
      woken++;
    }
    if (q.length === 0) this.queues.delete(key);
    return woken;
  }

  /** futex_requeue's second half: moves up to `n` waiters from `from` to `to`. */
  requeue(from: string, to: string, n: number): number {
    const q = this.queues.get(from);
    if (q === undefined || n <= 0) return 0;
    const moved = q.splice(0, n);
    if (q.length === 0) this.queues.delete(from);
    for (const w of moved) {
      w.key = to;
      this.enqueue(w);
    }
    return moved.length;
  }

  /** A task that dies leaves no waiter behind (a thread killed inside FUTEX_WAIT). */
  cancel(k: Kernel, t: Task): void {
    const w = t.futexWait as FutexWaiter | undefined;
    if (w === undefined) return;
    t.futexWait = undefined;
    this.remove(w);
    if (w.timer !== undefined) k.cancelTimer(w.timer);
  }
}

/** A futex in a private mapping: the address space (its PML4, unique while it lives) and the address. */
function privateKey(mm: AddressSpace, uaddr: number): string {
  return `m${mm.cr3}:${uaddr}`;
}

/** A futex in a shared mapping: the physical page and the offset in it. */
function sharedKey(pa: number, uaddr: number): string {
  return `p${pa - (pa % PAGE_SIZE)}:${uaddr % PAGE_SIZE}`;
}

/** The key of the futex word at `uaddr` of the calling task, or an errno (get_futex_key). */
function futexKey(k: Kernel, cpu: Cpu, t: Task, uaddr: number): string | number {
  if (uaddr % 4 !== 0) return -EINVAL;
  const mm = t.process.mm;
  const vma = mm.vmas.find(uaddr);
  if (vma === undefined) return -EFAULT;
  if ((vma.flags & MAP_SHARED) === 0) return privateKey(mm, uaddr);
  // A shared mapping: the page itself (get_user_pages_fast faults it in).
  const pa = k.userPhysical(cpu, t, uaddr, false);
  if (pa < 0) return -EFAULT;
  return sharedKey(pa, uaddr);
}

/** The key of a word the kernel reaches by a software walk of `mm` (at a thread's exit). */
function keyOfMapped(mm: AddressSpace, uaddr: number): string {
  const vma = mm.vmas.find(uaddr);
  const f = mm.frameAt(uaddr);
  return vma !== undefined && (vma.flags & MAP_SHARED) !== 0 && f !== undefined ? sharedKey(f.frame, uaddr) : privateKey(mm, uaddr);
}

function readWord(k: Kernel, cpu: Cpu, t: Task, va: number): number | undefined {
  const pa = k.userPhysical(cpu, t, va, false);
  return pa < 0 ? undefined : k.machine.mem.read32(pa) >>> 0;
}

/** The FUTEX_WAKE_OP comparison of the old value with cmparg. */
function wakeOpCompare(cmp: number, old: number, arg: number): boolean | undefined {
  switch (cmp) {
    case FUTEX_OP_CMP_EQ: return old === arg;
    case FUTEX_OP_CMP_NE: return old !== arg;
    case FUTEX_OP_CMP_LT: return old < arg;
    case FUTEX_OP_CMP_LE: return old <= arg;
    case FUTEX_OP_CMP_GT: return old > arg;
    case FUTEX_OP_CMP_GE: return old >= arg;
    default: return undefined;
  }
}

/** Reads a struct timespec from user memory: nanoseconds, or an errno. */
export type ReadTimespec = (va: number) => bigint | number;

/**
 * futex(2) (do_futex): WAIT, WAIT_BITSET, WAKE, WAKE_BITSET, REQUEUE, CMP_REQUEUE and WAKE_OP,
 * private or shared. PI futexes are not modelled (-ENOSYS, which glibc and musl handle).
 */
export function futex(ctx: SyscallContext, readTimespec: ReadTimespec, uaddr: number, opArg: number, val: number, timeout: number, uaddr2: number, val3: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  const table = kernel.futexes;
  const op = opArg | 0;
  const cmd = op & FUTEX_CMD_MASK;
  if ((op & FUTEX_CLOCK_REALTIME) !== 0 && cmd !== FUTEX_WAIT_BITSET) return -ENOSYS;
  cpu.cycles += kernel.costs.futexPath;
  kernel.countFutexCall();
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3 >>> 0;
      if (bitset === 0) return -EINVAL;
      const key = futexKey(kernel, cpu, task, uaddr);
      if (typeof key === 'number') return key;
      let deadlineNs: bigint | undefined;
      if (timeout !== 0) {
        const ns = readTimespec(timeout);
        if (typeof ns === 'number') return ns;
        // FUTEX_WAIT's timeout is relative; FUTEX_WAIT_BITSET's absolute (CLOCK_MONOTONIC, or
        // CLOCK_REALTIME with FUTEX_CLOCK_REALTIME).
        deadlineNs = cmd === FUTEX_WAIT ? ns : ns - ((op & FUTEX_CLOCK_REALTIME) !== 0 ? realtimeNs(kernel, cpu) : monotonicNs(kernel, cpu));
      }
      // futex_wait_setup: the value is compared with the task already on the queue, so a waker
      // that changes the word afterwards is sure to find it.
      const v = readWord(kernel, cpu, task, uaddr);
      if (v === undefined) return -EFAULT;
      if (v !== val >>> 0) return -EAGAIN;
      if (deadlineNs !== undefined && deadlineNs <= 0n) return -ETIMEDOUT;
      const w = new FutexWaiter(task, key, bitset);
      table.enqueue(w);
      task.futexWait = w;
      if (deadlineNs !== undefined) {
        w.timer = kernel.addTimer(cpu.cycles + nsToCycles(kernel, deadlineNs), () => {
          w.timedOut = true;
          w.timer = undefined;
          table.remove(w);
          kernel.wakeUp(task);
        });
      }
      kernel.sleep(task, () => w.woken || w.timedOut, () => {
        task.futexWait = undefined;
        if (w.woken) return task.regs.set(RAX, 0);
        if (w.timedOut) return task.regs.set(RAX, -ETIMEDOUT);
        // A signal: off the queue; without a timeout the call restarts (or is -EINTR after a
        // handler without SA_RESTART), with one it is -EINTR.
        table.remove(w);
        if (w.timer !== undefined) kernel.cancelTimer(w.timer);
        task.regs.set(RAX, deadlineNs === undefined ? -ERESTARTSYS : -EINTR);
      }, () => false);
      return BLOCKED;
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const bitset = cmd === FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3 >>> 0;
      if (bitset === 0) return -EINVAL;
      const key = futexKey(kernel, cpu, task, uaddr);
      if (typeof key === 'number') return key;
      return table.wake(kernel, key, val | 0, bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      // The fourth argument is val2, the number to requeue (an int in the timeout slot).
      const nWake = val | 0;
      const nRequeue = timeout | 0;
      if (nWake < 0 || nRequeue < 0) return -EINVAL;
      const k1 = futexKey(kernel, cpu, task, uaddr);
      if (typeof k1 === 'number') return k1;
      const k2 = futexKey(kernel, cpu, task, uaddr2);
      if (typeof k2 === 'number') return k2;
      if (cmd === FUTEX_CMP_REQUEUE) {
        const v = readWord(kernel, cpu, task, uaddr);
        if (v === undefined) return -EFAULT;
        if (v !== val3 >>> 0) return -EAGAIN;
      }
      const woken = table.wake(kernel, k1, nWake, FUTEX_BITSET_MATCH_ANY);
      return woken + table.requeue(k1, k2, nRequeue);
    }
    case FUTEX_WAKE_OP: {
      const k1 = futexKey(kernel, cpu, task, uaddr);
      if (typeof k1 === 'number') return k1;
      const k2 = futexKey(kernel, cpu, task, uaddr2);
      if (typeof k2 === 'number') return k2;
      const encoded = val3 >>> 0;
      const fop = (encoded >>> 28) & 0xf;
      const cmp = (encoded >>> 24) & 0xf;
      let oparg = ((encoded >>> 12) & 0xfff) << 20 >> 20; // sign-extended 12 bits
      const cmparg = (encoded & 0xfff) << 20 >> 20;
      if ((fop & FUTEX_OP_OPARG_SHIFT) !== 0) {
        if (oparg < 0 || oparg > 31) return -EINVAL;
        oparg = 1 << oparg;
      }
      const pa = kernel.userPhysical(cpu, task, uaddr2, true);
      if (pa < 0) return -EFAULT;
      const old = kernel.machine.mem.read32(pa) | 0;
      let nv: number;
      switch (fop & 7) {
        case FUTEX_OP_SET: nv = oparg; break;
        case FUTEX_OP_ADD: nv = old + oparg; break;
        case FUTEX_OP_OR: nv = old | oparg; break;
        case FUTEX_OP_ANDN: nv = old & ~oparg; break;
        case FUTEX_OP_XOR: nv = old ^ oparg; break;
        default: return -ENOSYS;
      }
      const hit = wakeOpCompare(cmp, old, cmparg);
      if (hit === undefined) return -ENOSYS;
      kernel.machine.mem.write32(pa, nv >>> 0);
      let woken = table.wake(kernel, k1, val | 0, FUTEX_BITSET_MATCH_ANY);
      if (hit) woken += table.wake(kernel, k2, timeout | 0, FUTEX_BITSET_MATCH_ANY);
      return woken;
    }
    default:
      return -ENOSYS;
  }
}

/**
 * exit_robust_list + handle_futex_death: for each lock on the dying thread's robust list (and the
 * one it was taking, list_op_pending) whose owner is this thread, set FUTEX_OWNER_DIED and wake
 * one waiter, so the lock does not stay held by a dead thread for ever. The list lives in user
 * memory and is read through the dead thread's address space; a bad pointer ends the walk.
 */
export function exitRobustList(k: Kernel, t: Task): void {
  const head = t.robustList;
  t.robustList = 0;
  if (head === 0) return;
  const p = t.process;
  const read64 = (va: number): number | undefined => {
    const b = k.accessProcessVm(p, va, 8);
    if (b === undefined) return undefined;
    const dv = new DataView(b.buffer);
    return (dv.getInt32(4, true)) * 0x1_0000_0000 + dv.getUint32(0, true);
  };
  const next0 = read64(head);
  const offset = read64(head + 8);
  const pending = read64(head + 16);
  if (next0 === undefined || offset === undefined || pending === undefined) return;
  const death = (entry: number): void => {
    const uaddr = entry + offset;
    if (uaddr % 4 !== 0) return;
    const b = k.accessProcessVm(p, uaddr, 4);
    if (b === undefined) return;
    const word = new DataView(b.buffer).getUint32(0, true);
    if ((word & FUTEX_TID_MASK) !== t.tid) return;
    const nv = ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, nv, true);
    k.accessProcessVm(p, uaddr, 4, out);
    if ((word & FUTEX_WAITERS) !== 0) k.futexes.wake(k, keyOfMapped(p.mm, uaddr), 1, FUTEX_BITSET_MATCH_ANY);
  };
  let entry = next0;
  for (let n = 0; entry !== head && n < ROBUST_LIST_LIMIT; n++) {
    const e = entry - (entry & 1); // bit 0 marks a PI futex
    const next = read64(e);
    if (next === undefined) break;
    if (e !== pending - (pending & 1)) death(e);
    entry = next;
  }
  if (pending !== 0) death(pending - (pending & 1));
}

/** put_user(0, clear_child_tid) and a FUTEX_WAKE of one waiter (mm_release): pthread_join's wake-up. */
export function clearChildTid(k: Kernel, t: Task): void {
  const va = t.clearChildTid;
  t.clearChildTid = 0;
  if (va === 0) return;
  const p = t.process;
  if (k.accessProcessVm(p, va, 4, new Uint8Array(4)) === undefined) return;
  k.futexes.wake(k, keyOfMapped(p.mm, va), 1, FUTEX_BITSET_MATCH_ANY);
}

