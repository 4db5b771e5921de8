import { AF_INET, AT_FDCWD, EACCES, EMFILE, EPERM, NR, O_ACCMODE, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC } from '../../core/linux/linux-abi.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { CheckedCall, SocketAddress, formatAddress } from './checked-call.js';
import { FileRules } from './file-rules.js';
import { OpenFileCounter } from './open-file-counter.js';
import { PathResolver } from './path-resolver.js';
import { SocketInspector } from './socket-inspector.js';
import { NetworkRules, SandboxPolicy } from './sandbox-policy.js';
import { FCNTL_DUP_CMDS } from './syscall-specs.js';

/** O_NOFOLLOW in open flags; AT_SYMLINK_NOFOLLOW in the AT_* flags of fstatat and faccessat2. */
const O_NOFOLLOW = 0o400000;
const AT_SYMLINK_NOFOLLOW = 0x100;

export type PolicyDecision = { readonly allow: true } | { readonly allow: false; readonly errno: number; readonly rule: string };

const ALLOWED: PolicyDecision = { allow: true };
/** Ending the program is never denied (an allow list without exit would leave it nowhere to go). */
const ALWAYS = new Set<number>([NR.exit, NR.exit_group]);

/** Instructions charged per rule looked at (a list lookup, a prefix comparison). */
export const POLICY_COSTS = { perCall: 6, perPath: 30 };

/**
 * The policy step of the pipeline (syscall_allow): the deny and allow lists, the file rules for
 * every path argument (what the path names after '..' and symlinks, and what it says), the
 * firewall for every address a socket call names or implies, and the open-descriptor limit. The memory limit is the memory manager's, which knows the sizes.
 */
export class PolicyEnforcer {
  private readonly files: FileRules | undefined;

  constructor(
    readonly policy: SandboxPolicy,
    private readonly paths: PathResolver,
    private readonly fds: OpenFileCounter,
    private readonly sockets: SocketInspector,
  ) {
    this.files = policy.files !== undefined ? new FileRules(policy.files) : undefined;
  }

  check(cpu: Cpu, call: CheckedCall): PolicyDecision {
    const p = this.policy;
    const nr = call.nr;
    cpu.charge(POLICY_COSTS.perCall * cpu.costs.instruction);
    if (p.deny.has(nr)) return { allow: false, errno: EPERM, rule: 'syscalls.deny lists it' };
    if (p.allow !== undefined && !p.allow.has(nr) && !ALWAYS.has(nr)) return { allow: false, errno: EPERM, rule: 'not in syscalls.allow' };
    // Whatever the policy: the runtime's devices are not the program's to open.
    for (const [i, kind] of call.spec.args.entries()) {
      if (kind.kind !== 'path' || kind.access !== 'open') continue;
      const lexical = this.paths.lexical(kind.dirfd !== undefined ? call.args[kind.dirfd]! : AT_FDCWD, call.strings.get(i)!);
      if (typeof lexical === 'string' && this.paths.isDriverDevice(lexical)) return { allow: false, errno: EACCES, rule: `${lexical} is the runtime's device` };
    }
    if (this.files !== undefined) {
      for (const [i, kind] of call.spec.args.entries()) {
        if (kind.kind !== 'path') continue;
        cpu.charge(POLICY_COSTS.perPath * cpu.costs.instruction);
        const flags = kind.flags !== undefined ? call.args[kind.flags]! : 0;
        const open = kind.access === 'open';
        const write = kind.access === 'write' || (open && ((flags & O_ACCMODE) !== O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) !== 0));
        const follow = kind.follow === 'flags' ? (flags & (open ? O_NOFOLLOW : AT_SYMLINK_NOFOLLOW)) === 0 : kind.follow;
        const dirfd = kind.dirfd !== undefined ? call.args[kind.dirfd]! : AT_FDCWD;
        const d = this.judgePath(call.strings.get(i)!, dirfd, follow, write ? 'write' : 'read');
        if (d !== undefined) return d;
      }
    }
    if (p.network !== undefined) {
      for (const [i, kind] of call.spec.args.entries()) {
        if (kind.kind !== 'sockaddr' || call.args[i] === 0) continue;
        cpu.charge(POLICY_COSTS.perPath * cpu.costs.instruction);
        const d = this.judgeAddress(p.network, kind.use, call.addresses?.get(i));
        if (d !== undefined) return d;
      }
      // Every way a socket gets a local address is a bind, named or not (socket-inspector.ts).
      const implicit = this.sockets.implicitBind(call);
      if (implicit !== undefined) {
        cpu.charge(POLICY_COSTS.perPath * cpu.costs.instruction);
        const d = this.judgeAddress(p.network, 'bind', implicit.address);
        if (d !== undefined && !d.allow) return { allow: false, errno: d.errno, rule: `${implicit.why}; ${d.rule}` };
      }
    }
    const limit = p.limits.openFiles;
    if (limit !== undefined && call.spec.handling === 'fd-open') {
      const more = this.newDescriptors(call);
      if (more > 0 && this.fds.count + more > limit) {
        return { allow: false, errno: EMFILE, rule: `limits.openFiles ${limit} (${this.fds.count} open)` };
      }
    }
    return ALLOWED;
  }

  /** How many descriptors the call would add to the count. */
  newDescriptors(call: CheckedCall): number {
    switch (call.nr) {
      case NR.pipe:
      case NR.pipe2:
        return 2;
      case NR.dup2:
      case NR.dup3:
        return this.fds.has(call.args[1]!) ? 0 : 1;
      case NR.fcntl:
        return FCNTL_DUP_CMDS.has(call.args[1]!) ? 1 : 0;
      default:
        return 1;
    }
  }

  /**
   * The firewall: a bind must match a `network.bind` rule, a connect (or a sendto with an
   * address) a `network.connect` rule. A refused bind is -EACCES (as a port the program may not
   * have), a refused connect -EPERM (what netfilter answers for a packet it drops on output).
   */
  private judgeAddress(rules: NetworkRules, use: 'bind' | 'connect' | 'send', a: SocketAddress | undefined): PolicyDecision | undefined {
    const list = use === 'bind' ? rules.bind : rules.connect;
    const key = use === 'bind' ? 'network.bind' : 'network.connect';
    const errno = use === 'bind' ? EACCES : EPERM;
    if (a === undefined) return undefined; // too short to name an address: the kernel refuses it
    if (a.family === 0 && use === 'connect') return undefined; // AF_UNSPEC: a UDP socket forgets its peer
    if (a.family !== AF_INET) return { allow: false, errno, rule: `${key}: only IPv4 addresses can be judged, got ${formatAddress(a)}` };
    for (const r of list) {
      const mask = r.prefixLength === 0 ? 0 : (~0 << (32 - r.prefixLength)) >>> 0;
      if (((a.addr & mask) >>> 0) !== ((r.address & mask) >>> 0)) continue;
      if (r.ports.length > 0 && !r.ports.some(([lo, hi]) => a.port >= lo && a.port <= hi)) continue;
      return undefined;
    }
    return { allow: false, errno, rule: list.length === 0 ? `${key} allows nothing` : `no ${key} rule covers ${formatAddress(a)}` };
  }

  private judgePath(name: string, dirfd: number, follow: boolean, access: 'read' | 'write'): PolicyDecision | undefined {
    const files = this.files!;
    const r = this.paths.resolve(dirfd, name, follow);
    if (typeof r === 'number') return undefined; // a bad dirfd: the kernel refuses the call itself
    if (r.escapes) return { allow: false, errno: EACCES, rule: `files: ${r.lexical} leads out of the guest's root through a symlink` };
    const lexical = files.judge(r.lexical, access);
    if (!lexical.ok) return { allow: false, errno: EACCES, rule: r.lexical !== name ? `files: ${name} is ${r.lexical}; ${lexical.why}` : `files: ${lexical.why}` };
    if (r.resolved !== undefined && r.resolved !== r.lexical) {
      const target = files.judge(r.resolved, access);
      if (!target.ok) return { allow: false, errno: EACCES, rule: `files: ${r.lexical} is a symlink to ${r.resolved}; ${target.why}` };
    }
    return undefined;
  }
}
