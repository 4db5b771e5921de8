/**
 * An optional event stream (VM exits, exceptions, syscalls, TLB flushes, page walks) kept as
 * Chrome Trace Event records, which Perfetto and chrome://tracing open. Callers test `enabled`
 * before building an event, so a disabled tracer costs one field load on the paths that trace.
 */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'i' | 'B' | 'E' | 'C';
  /** Microseconds of simulated time. */
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

export class Tracer {
  enabled = false;
  private readonly events: TraceEvent[] = [];
  /** Simulated clock rate, to turn cycles into the format's microseconds. */
  private cyclesPerMicrosecond = 3300;
  limit = 1_000_000;
  dropped = 0;

  setClock(hz: number): void {
    this.cyclesPerMicrosecond = hz / 1e6;
  }

  /** An instant event at `cycles` on CPU `cpu`. */
  instant(cat: string, name: string, cpu: number, cycles: number, args?: Record<string, unknown>): void {
    this.push({ name, cat, ph: 'i', s: 't', ts: cycles / this.cyclesPerMicrosecond, pid: 0, tid: cpu, args });
  }

  /** A complete event spanning [startCycles, endCycles). */
  span(cat: string, name: string, cpu: number, startCycles: number, endCycles: number, args?: Record<string, unknown>): void {
    this.push({
      name, cat, ph: 'X', ts: startCycles / this.cyclesPerMicrosecond,
      dur: (endCycles - startCycles) / this.cyclesPerMicrosecond, pid: 0, tid: cpu, args,
    });
  }

  private push(e: TraceEvent): void {
    if (this.events.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.events.push(e);
  }

  get length(): number {
    return this.events.length;
  }

  all(): readonly TraceEvent[] {
    return this.events;
  }

  clear(): void {
    this.events.length = 0;
    this.dropped = 0;
  }

  /** The Chrome Trace Event "JSON object format". */
  toChromeTrace(): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
    return {
      traceEvents: [
        { name: 'process_name', cat: '__metadata', ph: 'i', ts: 0, pid: 0, tid: 0, args: { name: 'dunesim machine' } },
        ...this.events,
      ],
      displayTimeUnit: 'ns',
      otherData: { dropped: this.dropped },
    };
  }
}
