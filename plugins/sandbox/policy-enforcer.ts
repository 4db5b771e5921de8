import { AF_INET, AT_FDCWD, EACCES, EFAULT, EINVAL, EMFILE, EPERM, EXDEV, NR, O_ACCMODE, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC } from '../../core/linux/linux-abi.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { CheckedCall, SocketAddress, formatAddress } from './checked-call.js';
import { FileRules } from './file-rules.js';
import { OpenFileCounter } from './open-file-counter.js';
import { PathResolver, ResolvedPath } from './path-resolver.js';
import { SocketInspector } from './socket-inspector.js';
import { NetworkRules, SandboxPolicy } from './sandbox-policy.js';
import { FCNTL_DUP_CMDS } from './syscall-specs.js';
import { POLICY_COSTS } from './sandbox-cost-constants.js';

/** O_NOFOLLOW in open flags; AT_SYMLINK_NOFOLLOW in the AT_* flags of fstatat and faccessat2; AT_SYMLINK_FOLLOW of linkat. */
const O_NOFOLLOW = 0o400000;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_SYMLINK_FOLLOW = 0x400;

export type PolicyDecision = { readonly allow: true } | { readonly allow: false; readonly errno: number; readonly rule: string };

const ALLOWED: PolicyDecision = { allow: true };
/** Ending the program is never denied (an allow list without exit would leave it nowhere to go). */
const ALWAYS = new Set<number>([NR.exit, NR.exit_group]);


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
        const follow = kind.follow === 'flags' ? (flags & (open ? O_NOFOLLOW : AT_SYMLINK_NOFOLLOW)) === 0
          : kind.follow === 'AT_SYMLINK_FOLLOW' ? (flags & AT_SYMLINK_FOLLOW) !== 0 : kind.follow;
        const dirfd = kind.dirfd !== undefined ? call.args[kind.dirfd]! : AT_FDCWD;
        const d = this.judgePath(call.strings.get(i)!, dirfd, follow, write ? 'write' : 'read', kind.moves === true);
        if (d !== undefined) return d;
      }
      for (const [i, kind] of call.spec.args.entries()) {
        if (kind.kind !== 'string' || kind.symlinkAt === undefined) continue;
        cpu.charge(POLICY_COSTS.perPath * cpu.costs.instruction);
        const at = kind.symlinkAt;
        const dirfd = at.dirfd !== undefined ? call.args[at.dirfd]! : AT_FDCWD;
        const target = call.strings.get(i)!;
        const r = this.paths.resolveTarget(dirfd, call.strings.get(at.path)!, target);
        if (typeof r === 'number') continue; // a bad dirfd: the kernel refuses the call itself
        const d = this.judgeResolved(`symlink target ${target}`, target, r, 'read');
        if (d !== undefined) return d;
      }
    }
    if (p.network !== undefined) {
      for (const [i, kind] of call.spec.args.entries()) {
        if (kind.kind !== 'sockaddr') continue;
        if (call.args[i] === 0) {
          // sendto without an address uses the socket's peer; a bind or connect without one is
          // refused here, failing closed, with what the kernel answers (move_addr_to_kernel:
          // -EFAULT for a length, inet_bind / inet_stream_connect: -EINVAL for none).
          if (kind.use === 'send') continue;
          return { allow: false, errno: call.args[kind.len] === 0 ? EINVAL : EFAULT, rule: `network.${kind.use}: no address to judge` };
        }
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
    // Too short to hold an address: refused here rather than trusted to the kernel (fail closed);
    // -EINVAL is what inet_bind, inet_dgram_connect and udp_sendmsg answer for a short one.
    if (a === undefined) return { allow: false, errno: EINVAL, rule: `${key}: the address is too short to judge` };
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

  /**
   * A path argument: the name as written, the object it reaches and every place the walk to it
   * stood in must all be allowed (judgeResolved); for a rename, no rule may lie below what moves.
   */
  private judgePath(name: string, dirfd: number, follow: boolean, access: 'read' | 'write', moves: boolean): PolicyDecision | undefined {
    // A trailing slash makes a lookup follow the last component; the calls that create or remove
    // a name (unlink, rmdir, rename, mkdir, link, symlink) strip it and act on the link itself.
    // Judge both readings, so whichever the call makes is judged.
    const stripped = name.replace(/\/+$/, '');
    if (!follow && stripped !== name && stripped !== '') {
      const d = this.judgePath(stripped, dirfd, follow, access, moves);
      if (d !== undefined) return d;
    }
    const r = this.paths.resolve(dirfd, name, follow);
    if (typeof r === 'number') return undefined; // a bad dirfd: the kernel refuses the call itself
    const d = this.judgeResolved('', name, r, access);
    if (d !== undefined || !moves) return d;
    // Renaming a directory carries what lies below it: a rule for something inside it would
    // then judge other files, and its files would fall under another rule — Landlock refuses
    // such a reparenting with EXDEV too (and mv then copies, file by file, each judged).
    const what = r.resolved ?? r.lexical;
    const inner = this.files!.rules.find((rule) => rule.path !== what && (what === '/' || rule.path.startsWith(what + '/')));
    if (inner === undefined) return undefined;
    return { allow: false, errno: EXDEV, rule: `files: ${what} holds files[${inner.index}] (${inner.path}, ${inner.access}); renaming it would move that rule's files` };
  }

  /**
   * Judges a resolved path for `access`: the text (made absolute, '..' applied), the object it
   * reaches (after symlinks and physical '..'), where the walk stopped if it did, and each place
   * it passed that the text does not show (a symlink's target, a directory left by '..') — read
   * access there, so a name can neither use nor probe a place the rules hide.
   */
  private judgeResolved(label: string, name: string, r: ResolvedPath, access: 'read' | 'write'): PolicyDecision | undefined {
    const files = this.files!;
    const head = label === '' ? 'files: ' : `files: ${label}: `;
    const deny = (why: string): PolicyDecision => ({ allow: false, errno: EACCES, rule: head + why });
    const lexical = files.judge(r.lexical, access);
    if (!lexical.ok) return deny(r.lexical !== name ? `${name} is ${r.lexical}; ${lexical.why}` : lexical.why);
    if (r.resolved !== undefined && r.resolved !== r.lexical) {
      const target = files.judge(r.resolved, access);
      if (!target.ok) return deny(`${r.lexical} leads to ${r.resolved} through a symlink; ${target.why}`);
    }
    if (r.stoppedAt !== undefined && r.stoppedAt !== r.lexical) {
      const at = files.judge(r.stoppedAt, 'read');
      if (!at.ok) return deny(`${r.lexical} stops at ${r.stoppedAt}; ${at.why}`);
    }
    for (const p of r.passed) {
      if (p === r.resolved || p === r.lexical) continue;
      const on = files.judge(p, 'read');
      if (!on.ok) return deny(`${r.lexical} passes through ${p}; ${on.why}`);
    }
    return undefined;
  }
}
