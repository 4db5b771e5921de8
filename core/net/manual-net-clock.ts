import { injectable } from 'inversify';
import type { NetTimers } from './net-timers.js';

/**
 * A clock that moves only when told to: the `NetTimers` of tests and of anything that steps a
 * stack by hand. Timers fire in time order, ties in the order they were scheduled, so a run is
 * the same every time. A binary heap over parallel arrays; cancelled handles are skipped lazily.
 */
@injectable()
export class ManualNetClock implements NetTimers {
  private nowNs = 0;
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly handles: number[] = [];
  private readonly actions: Array<() => void> = [];
  private readonly live = new Set<number>();
  private nextSeq = 0;
  private nextHandle = 1;
  /** Timer calls made so far. */
  fired = 0;

  now(): number {
    return this.nowNs;
  }

  schedule(atNs: number, fire: () => void): number {
    const handle = this.nextHandle++;
    const at = Math.max(atNs, this.nowNs);
    let i = this.times.length;
    this.times.push(at);
    this.seqs.push(this.nextSeq++);
    this.handles.push(handle);
    this.actions.push(fire);
    this.live.add(handle);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
    return handle;
  }

  cancel(handle: number): void {
    this.live.delete(handle);
  }

  /** Time of the next live timer, or Infinity. */
  peek(): number {
    this.dropCancelled();
    return this.times.length > 0 ? this.times[0]! : Infinity;
  }

  /** Runs every timer due up to `untilNs` and leaves the clock there. */
  runUntil(untilNs: number): void {
    for (;;) {
      const t = this.peek();
      if (t > untilNs) break;
      this.runNext();
    }
    if (untilNs > this.nowNs) this.nowNs = untilNs;
  }

  /** Advances the clock by `ns`, firing what falls due. */
  advance(ns: number): void {
    this.runUntil(this.nowNs + ns);
  }

  /**
   * Runs timers until `done()` holds or none is left; throws if more than `maxEvents` run (a test
   * that would otherwise spin forever on a retransmitting connection).
   */
  runWhile(busy: () => boolean, maxEvents = 10_000_000): void {
    let n = 0;
    while (busy() && this.peek() !== Infinity) {
      if (++n > maxEvents) throw new Error(`clock still busy after ${maxEvents} timers`);
      this.runNext();
    }
  }

  private runNext(): void {
    const t = this.times[0]!;
    const handle = this.handles[0]!;
    const action = this.actions[0]!;
    this.pop();
    this.live.delete(handle);
    this.nowNs = t;
    this.fired++;
    action();
  }

  private dropCancelled(): void {
    while (this.times.length > 0 && !this.live.has(this.handles[0]!)) this.pop();
  }

  private before(a: number, b: number): boolean {
    const ta = this.times[a]!;
    const tb = this.times[b]!;
    return ta < tb || (ta === tb && this.seqs[a]! < this.seqs[b]!);
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    [this.seqs[a], this.seqs[b]] = [this.seqs[b]!, this.seqs[a]!];
    [this.handles[a], this.handles[b]] = [this.handles[b]!, this.handles[a]!];
    [this.actions[a], this.actions[b]] = [this.actions[b]!, this.actions[a]!];
  }

  private pop(): void {
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.handles.pop();
    this.actions.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.times.length && this.before(l, m)) m = l;
      if (r < this.times.length && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}
