import type { Cpu } from '../../vtx/cpu.js';
import type { Stats } from '../../stats.js';
import type { CostModel } from '../../vtx/cost-model.js';

/** NAPI_POLL_WEIGHT: frames one poll may handle before the softirq moves on (include/linux/netdevice.h). */
export const NAPI_POLL_WEIGHT = 64;
/** netdev_budget: frames one net_rx_action pass handles over all its NAPI instances (net/core/dev.c). */
export const NETDEV_BUDGET = 300;

/**
 * One NAPI context (struct napi_struct): a driver's poll function for one interrupt vector. The
 * interrupt handler schedules it (napi_schedule) and leaves the vector masked; the NET_RX
 * softirq calls `poll` with a budget; a poll that did less than its budget has emptied its ring,
 * calls `complete` (napi_complete_done) and unmasks its interrupt.
 */
export class NapiStruct {
  /** NAPI_STATE_SCHED: on a CPU's poll list, or being polled. */
  scheduled = false;

  constructor(
    readonly name: string,
    /** Handles at most `budget` frames; returns how many it handled. */
    readonly poll: (cpu: Cpu, budget: number) => number,
    readonly weight = NAPI_POLL_WEIGHT,
  ) {}

  /** napi_complete_done: off the poll list; the next interrupt schedules it again. */
  complete(): void {
    this.scheduled = false;
  }
}

/**
 * The NET_RX softirq (net_rx_action) and each CPU's poll list (softnet_data.poll_list). A softirq
 * runs where it was raised, on the way out of the interrupt that raised it (irq_exit →
 * invoke_softirq), so a queue's frames are handled on the CPU its MSI-X vector targets.
 */
export class NetRxSoftirq {
  private readonly pollLists: NapiStruct[][];
  private readonly sv: Float64Array;
  private readonly sPolls: number;
  private readonly sSqueezed: number;
  private readonly sRuns: number;

  constructor(
    cpus: number,
    private readonly costs: CostModel,
    stats: Stats,
  ) {
    this.pollLists = Array.from({ length: cpus }, () => []);
    this.sv = stats.v;
    this.sRuns = stats.counter('linux.net.rxSoftirqs', 'count', 'NET_RX softirq runs (net_rx_action)');
    this.sPolls = stats.counter('linux.net.napiPolls', 'count', 'NAPI poll calls made by the NET_RX softirq');
    this.sSqueezed = stats.counter('linux.net.timeSqueeze', 'count', 'net_rx_action passes that used up netdev_budget with work left (softnet_stat time_squeeze)');
  }

  /** napi_schedule on `cpu`: false if it was already scheduled (the interrupt merges with the poll). */
  schedule(cpu: Cpu, napi: NapiStruct): boolean {
    if (napi.scheduled) return false;
    napi.scheduled = true;
    this.pollLists[cpu.index]!.push(napi);
    return true;
  }

  /** Whether NET_RX is raised on `cpu` (local_softirq_pending). */
  pending(cpu: Cpu): boolean {
    return this.pollLists[cpu.index]!.length > 0;
  }

  /**
   * net_rx_action: polls the CPU's list round robin, each NAPI up to its weight; one that used
   * its whole weight goes to the back of the list. A pass ends when the list is empty or
   * netdev_budget is spent; __do_softirq then runs another pass (its restarts, then ksoftirqd,
   * are not told apart here: the softirq runs until every ring is empty).
   */
  run(cpu: Cpu): void {
    const list = this.pollLists[cpu.index]!;
    if (list.length === 0) return;
    this.sv[this.sRuns]++;
    let budget = NETDEV_BUDGET;
    while (list.length > 0) {
      const napi = list.shift()!;
      this.sv[this.sPolls]++;
      cpu.charge(this.costs.netRxActionPath);
      const work = napi.poll(cpu, napi.weight);
      budget -= work;
      // A poll that used its whole weight is still scheduled: back of the list (it did not call
      // complete). One that completed is off the list until its next interrupt.
      if (napi.scheduled) {
        if (work < napi.weight) throw new Error(`${napi.name}: poll did ${work} of ${napi.weight} and did not complete (a driver bug)`);
        list.push(napi);
      }
      if (budget <= 0 && list.length > 0) {
        this.sv[this.sSqueezed]++;
        budget = NETDEV_BUDGET;
      }
    }
  }
}
