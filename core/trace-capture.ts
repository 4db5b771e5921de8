import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from './vtx/machine.js';

/** A file-name-safe form of a row or step label ("16 MiB · 4 KiB pages" → "16-MiB-4-KiB-pages"). */
export function traceSlug(label: string): string {
  return label.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'step';
}

/**
 * Traces the machines a suite or an application builds for itself. While started, every new
 * machine has its tracer on; at the end of each step (a bench suite's `progress(label)`, or the
 * end of a run) the machines built during that step are written to DIR as Chrome Trace Event
 * files, `PREFIX-LABEL.json` (`-2`, `-3`… when a step built several), and let go. With `only`,
 * just the step of that label is written (a long suite can then be traced for one row).
 */
export class TraceCapture {
  private machines: Machine[] = [];
  readonly written: string[] = [];
  private readonly observe = (m: Machine): void => {
    m.tracer.enabled = true;
    this.machines.push(m);
  };

  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly only?: string,
  ) {}

  start(): void {
    Machine.observers.add(this.observe);
  }

  stop(): void {
    Machine.observers.delete(this.observe);
    this.machines = [];
  }

  /** A step ended: writes its machines' traces (if it is the one wanted) and forgets them. */
  step(label: string): void {
    const machines = this.machines;
    this.machines = [];
    if (this.only !== undefined && label !== this.only) return;
    if (machines.length === 0) return;
    mkdirSync(this.dir, { recursive: true });
    machines.forEach((m, i) => {
      m.tracer.finish(m.cpus.map((c) => c.cycles));
      const path = join(this.dir, `${traceSlug(this.prefix)}-${traceSlug(label)}${i > 0 ? `-${i + 1}` : ''}.json`);
      m.tracer.writeFile(path);
      this.written.push(path);
    });
  }
}
