/**
 * Directed rounding for SSE arithmetic (MXCSR.RC = down, up, toward zero). JavaScript computes
 * every double operation rounded to nearest; the exact error of that result is recovered with
 * error-free transformations (TwoSum, Dekker's TwoProduct), and the result is moved one ulp when
 * the error points the wrong way for the rounding mode.
 */

export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

export const OP_ADD = 0x58;
export const OP_MUL = 0x59;
export const OP_SUB = 0x5c;
export const OP_DIV = 0x5e;
export const OP_SQRT = 0x51;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const f32 = new Float32Array(1);
const u32f = new Uint32Array(f32.buffer);
const SPLIT = 134217729; // 2^27 + 1

/** Error of a × b ≈ p: returns e with a × b = p + e exactly (no overflow or underflow). */
function productError(a: number, b: number, p: number): number {
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** Sign (-1, 0, 1) of (exact result − r) for `op` on a, b. */
export function errorSign(op: number, a: number, b: number, r: number): number {
  let e: number;
  switch (op) {
    case OP_ADD:
    case OP_SUB: {
      const bb = op === OP_ADD ? b : -b;
      const v = r - a;
      e = (a - (r - v)) + (bb - v);
      break;
    }
    case OP_MUL:
      e = productError(a, b, r);
      break;
    case OP_DIV: {
      // a = r·b + rem exactly; the true quotient is r + rem / b.
      const p = r * b;
      const pe = productError(r, b, p);
      const rem = (a - p) - pe;
      e = b < 0 ? -rem : rem;
      break;
    }
    default: {
      // sqrt: the true root exceeds r when b > r².
      const p = r * r;
      const pe = productError(r, r, p);
      e = (b - p) - pe;
    }
  }
  return e > 0 ? 1 : e < 0 ? -1 : 0;
}

export function nextUp(v: number): number {
  if (v !== v || v === Infinity) return v;
  if (v === 0) return 5e-324;
  f64[0] = v;
  let lo = u32[0]!;
  let hi = u32[1]!;
  if (v > 0) {
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  } else {
    if (lo === 0) hi = (hi - 1) >>> 0;
    lo = (lo - 1) >>> 0;
  }
  u32[0] = lo;
  u32[1] = hi;
  return f64[0]!;
}

export function nextDown(v: number): number {
  return -nextUp(-v);
}

/** Moves a nearest-rounded result r to the directed one, given the sign of (exact − r). */
export function direct(r: number, sign: number, rc: number): number {
  if (sign === 0 || rc === RC_NEAREST) return r;
  switch (rc) {
    case RC_DOWN: return sign < 0 ? nextDown(r) : r;
    case RC_UP: return sign > 0 ? nextUp(r) : r;
    default: return (r > 0 && sign < 0) || (r < 0 && sign > 0) ? (r > 0 ? nextDown(r) : nextUp(r)) : r;
  }
}

/** A double result of `op` with directed rounding (overflow to ±∞ respects the mode too). */
export function roundOp64(op: number, a: number, b: number, r: number, rc: number): number {
  if (r !== r) return r;
  if (r === Infinity || r === -Infinity) {
    const finiteIn = op === OP_SQRT ? Number.isFinite(b) : Number.isFinite(a) && Number.isFinite(b) && !(op === OP_DIV && b === 0);
    if (!finiteIn) return r;
    if (r > 0 && (rc === RC_DOWN || rc === RC_ZERO)) return Number.MAX_VALUE;
    if (r < 0 && (rc === RC_UP || rc === RC_ZERO)) return -Number.MAX_VALUE;
    return r;
  }
  return direct(r, errorSign(op, a, b, r), rc);
}

function nextUp32(v: number): number {
  if (v !== v || v === Infinity) return v;
  if (v === 0) return 1.401298464324817e-45;
  f32[0] = v;
  u32f[0] = v > 0 ? u32f[0]! + 1 : u32f[0]! - 1;
  return f32[0]!;
}

/**
 * The float nearest-or-directed rounding of a value known as `d` (a double) with `sign` the
 * sign of (exact − d).
 */
export function toF32(d: number, sign: number, rc: number): number {
  const f = Math.fround(d);
  if (rc === RC_NEAREST || f !== f) return f;
  // Sign of (exact − f).
  const s = f < d ? 1 : f > d ? -1 : sign;
  if (s === 0) return f;
  if (f === Infinity || f === -Infinity) {
    if (Number.isFinite(d) || sign !== 0) {
      if (f > 0 && (rc === RC_DOWN || rc === RC_ZERO)) return 3.4028234663852886e38;
      if (f < 0 && (rc === RC_UP || rc === RC_ZERO)) return -3.4028234663852886e38;
    }
    return f;
  }
  switch (rc) {
    case RC_DOWN: return s < 0 ? -nextUp32(-f) : f;
    case RC_UP: return s > 0 ? nextUp32(f) : f;
    default: return (f > 0 && s < 0) ? -nextUp32(-f) : (f < 0 && s > 0) ? nextUp32(f) : f;
  }
}
