/**
 * A latency histogram with bounded relative error, in the manner of HdrHistogram: values (in any
 * integer unit, picoseconds here) fall into buckets whose width is 1/`subBuckets` of their power
 * of two, so a recorded value is known to within 1/subBuckets (0.8 % with 128) whatever its
 * magnitude, in a fixed number of counters. Percentiles report the bucket's upper edge, never an
 * optimistic figure.
 */
export class LatencyHistogram {
  private readonly counts: Float64Array;
  private readonly subBits: number;
  total = 0;
  min = Infinity;
  max = 0;
  private sum = 0;

  constructor(readonly subBuckets = 128) {
    if (!Number.isInteger(Math.log2(subBuckets)) || subBuckets < 2) throw new RangeError(`subBuckets must be a power of two ≥ 2, got ${subBuckets}`);
    this.subBits = Math.log2(subBuckets);
    this.counts = new Float64Array((64 - this.subBits + 1) * subBuckets);
  }

  private index(v: number): number {
    if (v < this.subBuckets) return v;
    const exp = Math.floor(Math.log2(v)) - this.subBits + 1; // ≥ 1
    const sub = Math.floor(v / 2 ** exp); // in [subBuckets/2, subBuckets): the top subBits bits of v
    return exp * this.subBuckets + sub;
  }

  /** The largest value that falls into bucket `i`. */
  private upper(i: number): number {
    if (i < this.subBuckets) return i;
    const exp = Math.floor(i / this.subBuckets);
    const sub = i - exp * this.subBuckets;
    return (sub + 1) * 2 ** exp - 1;
  }

  record(value: number, count = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`latency must be a finite value ≥ 0, got ${value}`);
    const v = Math.round(value);
    this.counts[this.index(v)]! += count;
    this.total += count;
    this.sum += v * count;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  mean(): number {
    return this.total === 0 ? NaN : this.sum / this.total;
  }

  /** The value at or below which `p` percent of the recorded values lie (p in [0, 100]). */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.upper(i), this.max);
    }
    return this.max;
  }
}
