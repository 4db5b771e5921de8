/**
 * What the sandbox stopped: `denied` (the policy said no), `rejected` (an argument failed the
 * checks), `contained` (a fault or an instruction the program may not execute ended it), `killed`
 * (a limit ended it).
 */
export interface SandboxEvent {
  readonly kind: 'denied' | 'rejected' | 'contained' | 'killed';
  /** What was attempted: the call as strace would print it, or the faulting instruction. */
  readonly attempted: string;
  /** The rule or check that stopped it. */
  readonly rule: string;
  /** What the program got: '-EPERM', 'killed by SIGSEGV' … */
  readonly outcome: string;
}

/**
 * Collects the sandbox's events and writes each as one line on dunesim's stderr:
 * `sandbox: denied open("/etc/passwd", 0x0): files: no files rule covers /etc/passwd → -EACCES`.
 * A program that provokes denials in a loop would drown the terminal, so after `maxLines` lines
 * the rest are only counted (and summed up at the end).
 */
export class SandboxReporter {
  readonly events: SandboxEvent[] = [];
  /** Refusals not kept in `events` (beyond `maxEvents`); how a run ended is always kept. */
  dropped = 0;
  private lines = 0;

  constructor(
    private readonly sink: (line: string) => void,
    private readonly maxLines = 100,
    private readonly maxEvents = 10_000,
  ) {}

  add(e: SandboxEvent): void {
    // A program that loops on refusals must not push out the event that ended it.
    if (this.events.length < this.maxEvents || e.kind === 'contained' || e.kind === 'killed') this.events.push(e);
    else this.dropped++;
    this.lines++;
    if (this.lines <= this.maxLines) this.sink(`sandbox: ${e.kind} ${e.attempted}: ${e.rule} → ${e.outcome}\n`);
  }

  /** The closing line for reports that were not printed. */
  finish(): void {
    if (this.lines > this.maxLines) this.sink(`sandbox: ${this.lines - this.maxLines} more reports not shown (${this.lines} in all)\n`);
  }

  count(kind: SandboxEvent['kind']): number {
    return this.events.filter((e) => e.kind === kind).length;
  }
}
