import { SeededRandom } from './load-generators.js';

/**
 * The memcached workloads of the IX paper's Fig. 5 and Table 2, as mutilate generates them. Both
 * come from Facebook's trace study (Atikoglu et al., SIGMETRICS 2012):
 *
 * - **ETC**, the largest deployment: keys of 20–70 bytes, values of 1 byte to 1 KB, 75 % GETs.
 *   Key lengths follow the generalised extreme value fit of that study (location 30.7984, scale
 *   8.20449, shape 0.078688: mutilate's `fb_key`), values its discrete table of the sizes below
 *   15 bytes and a generalised Pareto tail (scale 214.476, shape 0.348238: `fb_value`). Both are
 *   cut to the paper's ranges.
 * - **USR**, the most GET-heavy: keys under 20 bytes (19 here), 2-byte values, 99 % GETs — almost
 *   every packet is a minimum-size TCP segment.
 *
 * A key is its record number in decimal, zero-padded to the record's key length (mutilate's
 * KeyGenerator); which record a request names is uniform over the key space.
 */
export interface MemcachedWorkload {
  readonly name: 'ETC' | 'USR';
  /** The fraction of requests that are GETs; the rest are SETs. */
  readonly getFraction: number;
  /** The key length of a record, from a uniform number in (0, 1) fixed per record. */
  keyBytes(u: number): number;
  /** A SET's value length. */
  valueBytes(rng: SeededRandom): number;
}

/** mutilate's fb_value table: the sizes below 15 bytes and their probabilities. */
const FB_SMALL_VALUES: readonly (readonly [number, number])[] = [
  [0.00536, 0], [0.00047, 1], [0.1782, 2], [0.09239, 3], [0.00018, 4], [0.0274, 5], [0.00065, 6],
  [0.00606, 7], [0.00023, 8], [0.00837, 9], [0.00837, 10], [0.08989, 11], [0.00092, 12], [0.00326, 13],
  [0.0198, 14],
];

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

export const ETC: MemcachedWorkload = {
  name: 'ETC',
  getFraction: 0.75,
  keyBytes(u: number): number {
    // GEV by inversion of an exponential variate, as mutilate draws it
    const e = -Math.log(u);
    const k = 0.078688;
    return clamp(Math.round(30.7984 + (8.20449 * (e ** -k - 1)) / k), 20, 70);
  },
  valueBytes(rng: SeededRandom): number {
    const u = rng.next();
    let sum = 0;
    for (const [p, v] of FB_SMALL_VALUES) {
      sum += p;
      if (u < sum) return Math.max(1, v);
    }
    const k = 0.348238;
    return clamp(Math.round((214.476 * (rng.next() ** -k - 1)) / k), 1, 1024);
  },
};

export const USR: MemcachedWorkload = {
  name: 'USR',
  getFraction: 0.99,
  keyBytes: () => 19,
  valueBytes: () => 2,
};

export const WORKLOADS: Readonly<Record<string, MemcachedWorkload>> = { etc: ETC, usr: USR };

export interface MemcachedRequest {
  readonly get: boolean;
  readonly record: number;
  /** For a SET, the value's length. */
  readonly valueBytes: number;
}

/** The key space of a run: `records` keys, each with its length drawn once from the workload. */
export class MemcachedKeySpace {
  readonly keys: readonly string[];

  constructor(readonly workload: MemcachedWorkload, readonly records: number, seed: number) {
    if (!Number.isInteger(records) || records < 1) throw new RangeError(`records must be ≥ 1, got ${records}`);
    const rng = new SeededRandom(seed ^ 0x6b657973);
    const digits = String(records - 1).length;
    const keys: string[] = [];
    for (let i = 0; i < records; i++) {
      const len = Math.max(workload.keyBytes(rng.next()), digits);
      keys.push(String(i).padStart(len, '0'));
    }
    this.keys = keys;
  }
}

/** The stream of requests: GET or SET by the workload's mix, a uniform record, a value size. */
export class MemcachedRequestStream {
  private readonly rng: SeededRandom;

  constructor(readonly space: MemcachedKeySpace, seed: number) {
    this.rng = new SeededRandom(seed);
  }

  next(): MemcachedRequest {
    const w = this.space.workload;
    const get = this.rng.next() < w.getFraction;
    const record = Math.min(this.space.records - 1, Math.floor(this.rng.next() * this.space.records));
    return { get, record, valueBytes: get ? 0 : w.valueBytes(this.rng) };
  }
}
