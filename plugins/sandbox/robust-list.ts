import { FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, ROBUST_LIST_LIMIT } from '../../core/linux/linux-abi.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { GuestMemory } from './guest-memory.js';

/** struct robust_list_head: next, futex_offset, list_op_pending. */
export const ROBUST_LIST_HEAD_SIZE = 24;

/**
 * A thread's robust futex list (set_robust_list), kept by the runtime instead of the kernel.
 * At a thread's exit the kernel walks the list and writes FUTEX_OWNER_DIED into every futex word
 * an entry names whose owner is the thread — a write the kernel makes through the host's page
 * tables, to any address: an entry aimed at the runtime's memory (a guest page-table entry in
 * libDune's pool whose low 30 bits equal the tid) would have the kernel rewrite it. So the
 * runtime keeps the head, and when the thread exits walks the list itself (exit_robust_list and
 * handle_futex_death), reading and writing only what ring 3 may, and wakes one waiter of each
 * word it released with FUTEX_WAKE.
 */
export function releaseRobustList(cpu: Cpu, memory: GuestMemory, head: number, tid: number): number[] {
  const wake: number[] = [];
  const next0 = memory.read64(cpu, head);
  const offset = memory.read64(cpu, head + 8);
  const pending = memory.read64(cpu, head + 16);
  if (next0 === undefined || offset === undefined || pending === undefined) return wake;
  const death = (entry: number): void => {
    const uaddr = entry + offset;
    if (uaddr % 4 !== 0) return;
    const b = memory.read(cpu, uaddr, 4);
    if (b === undefined) return;
    const word = new DataView(b.buffer).getUint32(0, true);
    if ((word & FUTEX_TID_MASK) !== tid) return;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0, true);
    if (!memory.write(cpu, uaddr, out)) return;
    if ((word & FUTEX_WAITERS) !== 0) wake.push(uaddr);
  };
  let entry = next0;
  for (let n = 0; entry !== head && n < ROBUST_LIST_LIMIT; n++) {
    const e = entry - (entry & 1); // bit 0 marks a PI futex
    const next = memory.read64(cpu, e);
    if (next === undefined) break;
    if (e !== pending - (pending & 1)) death(e);
    entry = next;
  }
  if (pending !== 0) death(pending - (pending & 1));
  return wake;
}
