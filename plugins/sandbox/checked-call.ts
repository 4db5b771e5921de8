import type { ArgCopy } from './argument-copies.js';
import { SyscallSpec } from './syscall-specs.js';

/** A system call whose arguments passed the checks, with the strings read for them. */
export interface CheckedCall {
  readonly nr: number;
  readonly spec: SyscallSpec;
  /** The six argument registers (rdi, rsi, rdx, r10, r8, r9), each as the kernel reads it (argsOf). */
  readonly args: number[];
  /** C strings (paths and others) read from the program's memory, by argument index. */
  readonly strings: ReadonlyMap<number, string>;
  /** IPv4 socket addresses read for the firewall, by argument index (absent: none read). */
  readonly addresses?: ReadonlyMap<number, SocketAddress>;
  /** The argument buffers the kernel gets as the runtime's copies (the Dune sandbox only). */
  readonly copies?: readonly ArgCopy[];
}

/** A struct sockaddr as the sandbox read it: AF_INET with its address and port, or another family. */
export interface SocketAddress {
  readonly family: number;
  /** IPv4 address as a host-order number (AF_INET only). */
  readonly addr: number;
  readonly port: number;
}

/** '127.0.0.1:8080', or 'family 10' for an address the firewall does not read. */
export function formatAddress(a: SocketAddress): string {
  if (a.family !== 2) return `family ${a.family}`;
  const x = a.addr;
  return `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}:${a.port}`;
}

/** Why the checks refused a call: the errno it gets and the argument at fault. */
export interface Rejection {
  readonly errno: number;
  readonly arg: number;
  readonly why: string;
}
