import { SYSCALL_NAMES } from '../../core/linux/linux-abi.js';
import { SocketAddress, formatAddress } from './checked-call.js';
import { SyscallSpec } from './syscall-specs.js';

const hex = (x: number): string => (x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16));

/** A value as strace shows it: small numbers in decimal, addresses and flags in hex. */
function value(x: number): string {
  return x >= -4096 && x <= 4096 ? String(x) : hex(x);
}

/**
 * A call as it was attempted, for reports: `open("../../etc/passwd", 0)`, strings quoted (as
 * read, when they could be), pointers in hex. A call without a table row shows its number's name
 * and its first three registers.
 */
export function formatCall(
  nr: number,
  spec: SyscallSpec | undefined,
  args: readonly number[],
  strings: ReadonlyMap<number, string> = new Map(),
  addresses: ReadonlyMap<number, SocketAddress> = new Map(),
): string {
  if (spec === undefined) {
    const name = SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
    return `${name}(${args.slice(0, 3).map(hex).join(', ')}, …) [system call ${nr}]`;
  }
  const parts = spec.args.map((a, i) => {
    const x = args[i]!;
    const s = strings.get(i);
    if (s !== undefined) return JSON.stringify(s);
    const addr = addresses.get(i);
    if (addr !== undefined) return `{${formatAddress(addr)}}`;
    return a.kind === 'value' || a.kind === 'self-pid' ? value(x) : hex(x);
  });
  return `${spec.name}(${parts.join(', ')})`;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 18: 'EXDEV', 22: 'EINVAL', 24: 'EMFILE',
  25: 'ENOTTY', 36: 'ENAMETOOLONG', 38: 'ENOSYS', 97: 'EAFNOSUPPORT',
};

/** '-EPERM' for 1. */
export function errnoName(errno: number): string {
  return `-${ERRNO_NAMES[errno] ?? String(errno)}`;
}

const SIGNAL_NAMES: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV' };

export function signalName(sig: number): string {
  return SIGNAL_NAMES[sig] ?? `signal ${sig}`;
}
