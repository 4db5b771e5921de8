/**
 * The stack's only view of time. It owns no clock: the Linux model drives it from the machine's
 * cycle clock, a dataplane from its own, tests from a manual clock. Times are nanoseconds.
 */
export interface NetTimers {
  /** Nanoseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /**
   * Calls `fire` once at `atNs` (a time in the past means as soon as possible). Never calls it
   * from inside `schedule`: the stack may be in the middle of changing a connection. Returns a
   * handle for `cancel`.
   */
  schedule(atNs: number, fire: () => void): number;
  /** Forgets a scheduled call; a handle that has fired or was cancelled is ignored. */
  cancel(handle: number): void;
}

/** The inversify token under which a `NetTimers` is bound. */
export const NetTimers = Symbol.for('dunesim.NetTimers');

export const NS_PER_MS = 1_000_000;
export const NS_PER_SECOND = 1_000_000_000;
