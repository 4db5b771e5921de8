import { ENOSYS } from '../../core/linux/linux-abi.js';

/** What a files rule grants under its path prefix. */
export type FileAccess = 'read-only' | 'read-write' | 'none';

/** One entry of `files`: a normalised absolute guest path prefix and what it grants. */
export interface FileRule {
  readonly path: string;
  readonly access: FileAccess;
  /** Its position in the file, for reports ("files[1]"). */
  readonly index: number;
}

/**
 * One firewall rule: IPv4 addresses (a prefix of `prefixLength` bits of `address`; 0 bits: any)
 * and a set of port ranges (empty: any port).
 */
export interface NetworkRule {
  readonly address: number;
  readonly prefixLength: number;
  readonly ports: ReadonlyArray<readonly [number, number]>;
  /** Its position in the file, for reports ("network.connect[0]"). */
  readonly index: number;
}

/** The user-level firewall (§5.1): where the program may bind and where it may connect. */
export interface NetworkRules {
  readonly bind: readonly NetworkRule[];
  readonly connect: readonly NetworkRule[];
}

export interface SandboxLimits {
  /** Bytes the program may hold in its heap (brk) and mappings (mmap, mremap) at once. */
  readonly memory?: number;
  /** Guest instructions from the program's first instruction on (runtime work on its behalf included). */
  readonly instructions?: number;
  /** Modelled cycles, counted the same way. */
  readonly cycles?: number;
  /** Descriptors the program may have open at once besides the 0, 1 and 2 it starts with. */
  readonly openFiles?: number;
  /** Real seconds the run may take, whatever the program does (SIGKILL then). */
  readonly wallSeconds?: number;
  /** Real seconds the machine may sit idle waiting for the host, every task asleep (SIGKILL then). */
  readonly idleSeconds?: number;
}

/**
 * A parsed, checked policy (see POLICY.md for the JSON it comes from). The null policy has no
 * rules at all: every system call the sandbox can validate passes through once validated.
 */
export interface SandboxPolicy {
  readonly name: string;
  /** The file it was read from ('built-in' for the null policy). */
  readonly source: string;
  /** errno for a system call the sandbox has no argument table for (ENOSYS or EPERM). */
  readonly unknownErrno: number;
  /** When present, only these calls (exit and exit_group are always allowed). */
  readonly allow?: ReadonlySet<number>;
  readonly deny: ReadonlySet<number>;
  /** The clone flags a thread may be made with (clone-flags.ts); absent: all of CLONE_THREAD_FLAGS. */
  readonly cloneFlags?: number;
  /** When present, every path a call names must be covered by a rule; absent: no file rules. */
  readonly files?: readonly FileRule[];
  /** When present, bind and connect must match a rule of their list; absent: no firewall. */
  readonly network?: NetworkRules;
  readonly limits: SandboxLimits;
}

/** The paper's measurement policy: validated passthrough (§5.1, Figure 3). */
export const NULL_POLICY: SandboxPolicy = {
  name: 'null',
  source: 'built-in',
  unknownErrno: ENOSYS,
  deny: new Set(),
  limits: {},
};
