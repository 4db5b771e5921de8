import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_BIN } from '../../core/system/index.js';
import { THREADS_WORKLOADS, measureWorkload } from '../../core/linux/bench/threads-bench-suite.js';
import type { BenchRow } from '../../core/bench/bench-suite.js';

/**
 * `dunesim bench threads` at a small size: each row's mechanism counts per operation are the
 * ones its operation implies (the full-size figures are in docs/bench/threads.json).
 */
const PROFILE = 'dune-e3-1230v2';
function row(id: string, n: readonly [number, number] = [5, 15]): BenchRow {
  const w = THREADS_WORKLOADS.find((x) => x.id === id);
  if (w === undefined) throw new Error(`no workload ${id}`);
  return measureWorkload(PROFILE, { ...w, n });
}

describe.runIf(existsSync(join(GUEST_BIN, 'threadbench')))('bench threads', () => {
  it('create rows: a thread needs no CR3 load, a fork switches to the child and back, vfork+exec runs a fresh image', () => {
    const pthread = row('create:pthread');
    const fork = row('create:fork');
    const vfork = row('create:vfork-exec');
    expect(pthread.counts!['cr3Loads']).toBe(0);
    expect(pthread.counts!['contextSwitches']).toBe(2);
    expect(fork.counts!['cr3Loads']).toBe(2);
    expect(vfork.counts!['cr3Loads']).toBe(2);
    // Creation order of cost: a thread, then a fork of a small program, then vfork + execve.
    expect(pthread.linux!).toBeLessThan(fork.linux!);
    expect(fork.linux!).toBeLessThan(vfork.linux!);
    // Dune Table 5's Linux fork: 81 µs at the profile's 3.3 GHz.
    expect(fork.paper?.linux).toBeCloseTo(81e-6 * 3.3e9, 0);
  });

  it('a futex wake-up across CPUs takes a reschedule IPI, one on the same CPU a thread switch', () => {
    const same = row('futex-wake:same-cpu', [20, 60]);
    const cross = row('futex-wake:cross-cpu', [20, 60]);
    expect(same.counts!['wakeIpis']).toBe(0);
    expect(same.counts!['contextSwitches']).toBe(1);
    expect(cross.counts!['wakeIpis']).toBe(1);
    expect(cross.counts!['futexCalls']).toBe(2);
    expect(cross.counts!['cr3Loads']).toBe(0); // lazy TLB: the woken CPU still holds the mm
  });

  it('context switches: a CR3 load and its TLB refill between processes, which PCIDs remove', () => {
    const thread = row('ctxsw:thread', [20, 60]);
    const proc = row('ctxsw:process', [20, 60]);
    const pcid = row('ctxsw:process+pcid', [20, 60]);
    expect(thread.counts!['cr3Loads']).toBe(0);
    expect(proc.counts!['cr3Loads']).toBe(1);
    expect(proc.counts!['cr3LoadsNoFlush']).toBe(0);
    expect(pcid.counts!['cr3LoadsNoFlush']).toBe(1);
    expect(proc.counts!['tlbMisses']).toBeGreaterThan(16);
    expect(pcid.counts!['tlbMisses']).toBeLessThan(1);
    expect(thread.linux!).toBeLessThan(proc.linux!);
    expect(pcid.linux!).toBeLessThan(proc.linux!);
  });

  it('is deterministic: the same row twice gives the same cycles and counts', () => {
    expect(row('shootdown:2cpus')).toEqual(row('shootdown:2cpus'));
  });
});
