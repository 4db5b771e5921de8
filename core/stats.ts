/**
 * Named counters (gem5's ADD_STAT, blink's stats.inc): each is declared once with a unit and a
 * description and lives in one Float64Array slot, so the hot path increments `v[slot]++` with no
 * look-up. Derived figures are computed when reported, never maintained.
 */
export interface StatInfo {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

export class Stats {
  /**
   * The counter values; index with the slot `counter()` returned. Fixed capacity, so hot paths
   * may keep a reference to this array.
   */
  readonly v: Float64Array;
  private readonly infos: StatInfo[] = [];
  private readonly byName = new Map<string, number>();
  private readonly samplers: Array<() => void> = [];

  constructor(capacity = 4096) {
    this.v = new Float64Array(capacity);
  }

  /** Declares a counter (or returns the existing slot of the same name). */
  counter(name: string, unit: string, description: string): number {
    const existing = this.byName.get(name);
    if (existing !== undefined) return existing;
    const slot = this.infos.length;
    if (slot === this.v.length) throw new Error(`more than ${this.v.length} counters declared`);
    this.infos.push({ name, unit, description });
    this.byName.set(name, slot);
    return slot;
  }

  /**
   * Registers a function run before every read of the counters: for a counter that is brought up
   * to date lazily (a CPU's cycles by mode are closed into their counters only when the mode
   * changes), so that a read in the middle of an interval sees it.
   */
  onSample(fn: () => void): void {
    this.samplers.push(fn);
  }

  private sample(): void {
    for (let i = 0; i < this.samplers.length; i++) this.samplers[i]!();
  }

  get(name: string): number {
    this.sample();
    const slot = this.byName.get(name);
    return slot === undefined ? 0 : this.v[slot]!;
  }

  /**
   * Sum of every counter whose name ends with `.${suffix}` or equals it (e.g. all CPUs' TLB hits).
   * A counter nobody registered counts 0 (a Dune counter in a Linux run), so a suffix written with
   * its own leading dot, which could never match, is refused rather than read as 0.
   */
  sum(suffix: string): number {
    if (suffix.startsWith('.') || suffix === '') throw new RangeError(`Stats.sum('${suffix}'): give the suffix without its leading dot, e.g. 'tlb.hits'`);
    this.sample();
    let total = 0;
    for (let i = 0; i < this.infos.length; i++) {
      const n = this.infos[i]!.name;
      if (n === suffix || n.endsWith('.' + suffix)) total += this.v[i]!;
    }
    return total;
  }

  info(name: string): StatInfo | undefined {
    const slot = this.byName.get(name);
    return slot === undefined ? undefined : this.infos[slot];
  }

  reset(): void {
    this.sample();
    this.v.fill(0);
  }

  /** Every counter, in declaration order, with its value. */
  entries(): Array<StatInfo & { value: number }> {
    this.sample();
    return this.infos.map((info, i) => ({ ...info, value: this.v[i]! }));
  }

  toJSON(): Record<string, number> {
    this.sample();
    const out: Record<string, number> = {};
    for (let i = 0; i < this.infos.length; i++) out[this.infos[i]!.name] = this.v[i]!;
    return out;
  }
}
