/**
 * Extension point: a system-call policy (sandbox filters, Wedge sthread policies …). A policy sees
 * each intercepted call (number and six arguments) and decides.
 */
export const SyscallPolicy = Symbol('SyscallPolicy');

export type SyscallDecision =
  | { action: 'allow' }
  | { action: 'deny'; errno: number; reason: string }
  | { action: 'kill'; reason: string };

export interface SyscallPolicy {
  readonly id: string;
  readonly description: string;
  check(nr: number, args: readonly number[]): SyscallDecision;
}
