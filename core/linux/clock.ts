import type { Cpu } from '../vtx/cpu.js';
import type { Kernel } from './kernel.js';

/**
 * Time and entropy of the Linux model, both deterministic so that a run repeats exactly.
 *
 * Time is the simulated clock: the cycles of the CPU a task runs on over the profile's clockHz.
 * CLOCK_MONOTONIC starts at 0 when the machine is made; CLOCK_REALTIME is that plus a fixed
 * epoch (the first day of OSDI '12). Cycle counts differ between CPUs, so the kernel keeps the
 * largest time it has handed out and never returns less (a task that migrates to a CPU that is
 * behind does not see time go backwards).
 *
 * Entropy (getrandom, /dev/urandom) comes from a seeded generator (xoshiro128**), one stream
 * per kernel.
 */

/** 2012-10-08 00:00:00 UTC, the CLOCK_REALTIME of cycle 0. */
export const BOOT_EPOCH_SECONDS = 1_349_654_400;
export const BOOT_EPOCH_NS = BigInt(BOOT_EPOCH_SECONDS) * 1_000_000_000n;
export const DEFAULT_RANDOM_SEED = 0x5eed_d00e;

interface ClockState {
  lastNs: bigint;
  rng: Uint32Array;
}

const states = new WeakMap<Kernel, ClockState>();

function state(k: Kernel): ClockState {
  let s = states.get(k);
  if (s === undefined) {
    s = { lastNs: 0n, rng: seedState(DEFAULT_RANDOM_SEED) };
    states.set(k, s);
  }
  return s;
}

/** Nanoseconds of simulated time on `cpu` (CLOCK_MONOTONIC), never less than any earlier reading. */
export function monotonicNs(k: Kernel, cpu: Cpu): bigint {
  const s = state(k);
  const ns = cyclesToNs(k, cpu.cycles);
  if (ns > s.lastNs) s.lastNs = ns;
  return s.lastNs;
}

/** CLOCK_REALTIME in nanoseconds since 1970. */
export function realtimeNs(k: Kernel, cpu: Cpu): bigint {
  return BOOT_EPOCH_NS + monotonicNs(k, cpu);
}

export function cyclesToNs(k: Kernel, cycles: number): bigint {
  return (BigInt(Math.floor(cycles)) * 1_000_000_000n) / BigInt(Math.round(k.costs.clockHz));
}

export function nsToCycles(k: Kernel, ns: bigint): number {
  return Number((ns * BigInt(Math.round(k.costs.clockHz))) / 1_000_000_000n);
}

/** Restarts the kernel's random stream from `seed` (getrandom and /dev/urandom). */
export function seedRandom(k: Kernel, seed: number): void {
  state(k).rng = seedState(seed);
}

/** `n` bytes of the kernel's deterministic random stream. */
export function randomBytes(k: Kernel, n: number): Uint8Array {
  const s = state(k).rng;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = next(s);
    out[i] = v & 0xff;
    if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < n) out[i + 3] = v >>> 24;
  }
  return out;
}

/** xoshiro128** state from a 32-bit seed, expanded with splitmix32. */
function seedState(seed: number): Uint32Array {
  const s = new Uint32Array(4);
  let x = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e37_79b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35) >>> 0;
    s[i] = (z ^ (z >>> 16)) >>> 0;
  }
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  return s;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function next(s: Uint32Array): number {
  const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
  const t = (s[1]! << 9) >>> 0;
  s[2]! ^= s[0]!;
  s[3]! ^= s[1]!;
  s[1]! ^= s[2]!;
  s[0]! ^= s[3]!;
  s[2]! ^= t;
  s[3] = rotl(s[3]!, 11);
  return result;
}
