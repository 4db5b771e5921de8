import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * An optional event stream kept as Chrome Trace Event records, which Perfetto (ui.perfetto.dev)
 * and chrome://tracing open. Two kinds of track:
 * - the machine (pid 0), one thread per CPU: what the CPU is doing as back-to-back spans (user,
 *   kernel, guest ring 0/3 under VMX, a VM exit by reason, idle), and instants for exceptions,
 *   TLB flushes, context switches, IPIs;
 * - one process per guest process (its pid), one thread per task (its tid): the system calls it
 *   makes, from entry to return (a call that sleeps spans its sleep), and the page faults the
 *   kernel handles for it.
 * Callers test `enabled` before building an event, so a disabled tracer costs one field load on
 * the paths that trace, none of which is the interpreter's or the MMU's hit path.
 */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'i' | 'B' | 'E' | 'C' | 'M';
  /** Microseconds of simulated time. */
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

/** The machine's track group: its threads are the CPUs. */
export const MACHINE_PID = 0;

export class Tracer {
  enabled = false;
  private readonly events: TraceEvent[] = [];
  private readonly meta: TraceEvent[] = [];
  private readonly named = new Set<string>();
  /** Simulated clock rate, to turn cycles into the format's microseconds. */
  private cyclesPerMicrosecond = 3300;
  limit = 1_000_000;
  dropped = 0;
  /** Per CPU: the state it is in and the cycle it entered it (NaN: none open). */
  private readonly cpuStates: string[] = [];
  private readonly cpuSince: number[] = [];

  setClock(hz: number): void {
    this.cyclesPerMicrosecond = hz / 1e6;
  }

  /** An instant event at `cycles` on CPU `cpu`. */
  instant(cat: string, name: string, cpu: number, cycles: number, args?: Record<string, unknown>): void {
    this.push({ name, cat, ph: 'i', s: 't', ts: cycles / this.cyclesPerMicrosecond, pid: MACHINE_PID, tid: cpu, args });
  }

  /** A complete event spanning [startCycles, endCycles) on CPU `cpu`. */
  span(cat: string, name: string, cpu: number, startCycles: number, endCycles: number, args?: Record<string, unknown>): void {
    this.taskSpan(MACHINE_PID, cpu, cat, name, startCycles, endCycles, args);
  }

  /** A complete event on a guest task's track (pid = its thread group, tid = the task). */
  taskSpan(pid: number, tid: number, cat: string, name: string, startCycles: number, endCycles: number, args?: Record<string, unknown>): void {
    this.push({
      name, cat, ph: 'X', ts: startCycles / this.cyclesPerMicrosecond,
      dur: Math.max(0, endCycles - startCycles) / this.cyclesPerMicrosecond, pid, tid, args,
    });
  }

  /**
   * CPU `cpu` is in `state` from `cycles` on: the state it was in becomes a span ending there.
   * Empty spans are left out, and a state that resumes where the same state's span ended extends
   * that span (user → empty kernel → user is one user span). 'idle' is a state like the others.
   */
  cpuState(cpu: number, cycles: number, state: string): void {
    const was = this.cpuStates[cpu];
    if (was === state) return;
    const since = this.cpuSince[cpu];
    if (was !== undefined && since !== undefined && cycles > since) this.closeCpuSpan(cpu, was, since, cycles);
    this.cpuStates[cpu] = state;
    this.cpuSince[cpu] = cycles;
    this.nameThread(MACHINE_PID, cpu, `cpu${cpu}`);
  }

  /** Ends every CPU's open state at its clock (the end of a run). */
  finish(clocks: readonly number[]): void {
    for (let i = 0; i < clocks.length; i++) {
      const was = this.cpuStates[i];
      const since = this.cpuSince[i];
      if (was !== undefined && since !== undefined && clocks[i]! > since) this.closeCpuSpan(i, was, since, clocks[i]!);
      this.cpuStates[i] = undefined as unknown as string;
      const p = this.pending[i];
      if (p !== undefined) this.span('cpu', p.name, i, p.start, p.end);
      this.pending[i] = undefined;
    }
  }

  /** The last span of each CPU, held back so that the next one may extend it. */
  private readonly pending: Array<{ name: string; start: number; end: number } | undefined> = [];

  private closeCpuSpan(cpu: number, name: string, start: number, end: number): void {
    const p = this.pending[cpu];
    if (p !== undefined && p.name === name && p.end === start) {
      p.end = end;
      return;
    }
    if (p !== undefined) this.span('cpu', p.name, cpu, p.start, p.end);
    this.pending[cpu] = { name, start, end };
  }

  /** Names a track group (`process_name` metadata); the first name given stays. */
  nameProcess(pid: number, name: string): void {
    const key = `p${pid}`;
    if (this.named.has(key)) return;
    this.named.add(key);
    this.meta.push({ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: 0, args: { name } });
  }

  /** Names a track (`thread_name` metadata). */
  nameThread(pid: number, tid: number, name: string): void {
    const key = `t${pid}:${tid}`;
    if (this.named.has(key)) return;
    this.named.add(key);
    this.meta.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid, args: { name } });
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
    this.meta.length = 0;
    this.named.clear();
    this.cpuStates.length = 0;
    this.cpuSince.length = 0;
    this.pending.length = 0;
    this.dropped = 0;
  }

  /** The Chrome Trace Event "JSON object format". */
  toChromeTrace(): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
    return {
      traceEvents: [...this.metadata(), ...this.events],
      displayTimeUnit: 'ns',
      otherData: { dropped: this.dropped, limit: this.limit },
    };
  }

  /** Writes the trace to `path` one event per line (a million events do not make one giant string). */
  writeFile(path: string): void {
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, '{"displayTimeUnit":"ns","otherData":' + JSON.stringify({ dropped: this.dropped, limit: this.limit }) + ',"traceEvents":[\n');
      let first = true;
      let chunk = '';
      for (const e of [...this.metadata(), ...this.events]) {
        chunk += (first ? '' : ',\n') + JSON.stringify(e);
        first = false;
        if (chunk.length > 1 << 20) {
          writeSync(fd, chunk);
          chunk = '';
        }
      }
      writeSync(fd, chunk + '\n]}\n');
    } finally {
      closeSync(fd);
    }
  }

  private metadata(): TraceEvent[] {
    const machine: TraceEvent = { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: MACHINE_PID, tid: 0, args: { name: 'dunesim machine (CPUs)' } };
    return [machine, ...this.meta];
  }
}
