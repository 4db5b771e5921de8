import {
  EFAULT, EINVAL, ENAMETOOLONG, ENOTTY, EPERM, FLOCK_SIZE, FUTEX_CMD_MASK, FUTEX_CMP_REQUEUE, FUTEX_LOCK_PI, FUTEX_REQUEUE,
  FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE_OP, IOVEC_SIZE, PATH_MAX, SOCKADDR_STORAGE_SIZE, TIMESPEC_SIZE, UIO_MAXIOV,
} from '../../core/linux/linux-abi.js';
import { ArgWidth, argOf } from '../../core/linux/syscall-prototypes.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { ARG_COPIES_SIZE, ArgCopies } from './argument-copies.js';
import { CheckedCall, Rejection, SocketAddress } from './checked-call.js';
import { GuestMemory } from './guest-memory.js';
import { RuntimeRegions } from './runtime-regions.js';
import { FCNTL_ARGS, IOCTL_ARGS, Len, SyscallSpec } from './syscall-specs.js';
import { CHECK_COSTS } from './sandbox-cost-constants.js';

/** futex operations whose uaddr2 is a word the kernel reads or writes (the requeues, WAKE_OP, the PI requeues 11 and 12). */
const FUTEX_SECOND_WORD: ReadonlySet<number> = new Set([FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, 11, 12]);
/** futex operations whose fourth argument is a struct timespec pointer (kernel/futex/syscalls.c; 11 WAIT_REQUEUE_PI, 13 LOCK_PI2). */
const FUTEX_TIMED: ReadonlySet<number> = new Set([FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET, 11, 13]);

const hex = (x: number): string => (x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16));


/**
 * syscall_check_params as a table walk: each argument of the call is checked by its kind
 * (SyscallSpec) — buffers must lie in the untrusted windows with a length that neither wraps nor
 * leaves them, strings must end (with a NUL) in memory the program can read, iovec arrays and
 * each of their buffers likewise. The first failure refuses the call, normally with -EFAULT.
 */
export class ArgumentValidator {
  constructor(
    private readonly memory: GuestMemory,
    private readonly regions: RuntimeRegions,
    private readonly selfPid: number,
  ) {}

  /**
   * `args` are the call's arguments as the kernel reads them (argsOf: each at its prototype's
   * width). Every buffer the kernel reads is read here once, into an ArgCopy, and checked there;
   * the runtime passes the copies on in place of the program's buffers.
   */
  check(cpu: Cpu, spec: SyscallSpec, args: number[]): CheckedCall | Rejection {
    const strings = new Map<number, string>();
    const addresses = new Map<number, SocketAddress>();
    const copies = new ArgCopies();
    const ins = cpu.costs.instruction;
    for (let i = 0; i < spec.args.length; i++) {
      const a = spec.args[i]!;
      const x = args[i]!;
      cpu.charge(CHECK_COSTS.perArgument * ins);
      switch (a.kind) {
        case 'value':
          break;
        case 'in':
        case 'out':
        case 'inout': {
          if (a.nullable === true && x === 0) break;
          if (copies.has(i)) break; // the length of an out-lenp buffer, read and copied already
          cpu.charge(CHECK_COSTS.perRange * ins);
          const len = this.len(a.len, args);
          const r = this.range(i, a.name, x, len);
          if (r !== undefined) return r;
          const copy = a.copy ?? a.kind !== 'out';
          if (!copy || len === 0) break;
          const c = this.copy(cpu, copies, i, a.name, x, len, a.kind === 'in' ? 'in' : a.kind === 'out' ? 'out' : 'inout');
          if (c !== undefined) return c;
          break;
        }
        case 'string':
        case 'path': {
          const b = this.memory.readStringBytes(cpu, x, PATH_MAX - 1);
          if (b === 'fault') {
            const where = this.memory.windows.windowOf(x) !== undefined ? 'runs into memory the program has not mapped' : `points into ${this.where(x)}`;
            return { errno: EFAULT, arg: i, why: `${a.name} (${hex(x)}) ${where}` };
          }
          if (b === 'too-long') return { errno: ENAMETOOLONG, arg: i, why: `${a.name} is longer than PATH_MAX` };
          cpu.charge(CHECK_COSTS.perStringByte * (b.length + 1) * ins);
          strings.set(i, new TextDecoder().decode(b));
          const z = new Uint8Array(b.length + 1);
          z.set(b);
          if (!copies.add(cpu, i, z)) return this.tooBig(i, a.name, z.length);
          break;
        }
        case 'iovec': {
          const count = args[a.count]!;
          if (count < 0 || count > UIO_MAXIOV) return { errno: EINVAL, arg: a.count, why: `iovcnt ${count} is not in 0..${UIO_MAXIOV}` };
          const r = this.range(i, a.name, x, count * IOVEC_SIZE);
          if (r !== undefined) return r;
          if (count === 0) break;
          // The array is read once; its entries are checked in the copy the kernel will read.
          const arr = this.memory.read(cpu, x, count * IOVEC_SIZE);
          if (arr === undefined) return { errno: EFAULT, arg: i, why: `${a.name} (${hex(x)}) is not readable` };
          const dv = new DataView(arr.buffer);
          for (let k = 0; k < count; k++) {
            cpu.charge(CHECK_COSTS.perIovec * ins);
            const o = k * IOVEC_SIZE;
            const base = argOf(ArgWidth.Long, dv.getUint32(o, true), dv.getUint32(o + 4, true));
            const len = argOf(ArgWidth.Long, dv.getUint32(o + 8, true), dv.getUint32(o + 12, true));
            const rr = this.range(i, `${a.name}[${k}].iov_base`, base, len);
            if (rr !== undefined) return rr;
          }
          if (!copies.add(cpu, i, arr)) return this.tooBig(i, a.name, arr.length);
          break;
        }
        case 'ioctl-arg': {
          const req = args[a.request]!;
          const io = IOCTL_ARGS.get(req);
          if (io === undefined) return { errno: ENOTTY, arg: a.request, why: `ioctl request ${hex(req)} is not one the sandbox knows (TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX)` };
          if (io.kind !== 'none') {
            const r = this.range(i, `${a.name} (${io.name})`, x, io.size);
            if (r !== undefined) return r;
            if (io.kind === 'in') {
              const c = this.copy(cpu, copies, i, `${a.name} (${io.name})`, x, io.size, 'in');
              if (c !== undefined) return c;
            }
          }
          break;
        }
        case 'fcntl-arg': {
          const cmd = args[a.cmd]!;
          const f = FCNTL_ARGS.get(cmd);
          if (f === undefined) return { errno: EINVAL, arg: a.cmd, why: `fcntl command ${hex(cmd)} is not one the sandbox knows (${[...FCNTL_ARGS.values()].map((c) => c.name).join(', ')})` };
          if (f.kind !== 'in' && f.kind !== 'inout') break;
          const r = this.range(i, `${a.name} (struct flock)`, x, FLOCK_SIZE);
          if (r !== undefined) return r;
          const c = this.copy(cpu, copies, i, `${a.name} (struct flock)`, x, FLOCK_SIZE, f.kind);
          if (c !== undefined) return c;
          break;
        }
        case 'sockaddr': {
          if (x === 0) break; // the kernel answers a NULL address itself (-EFAULT, or none for sendto)
          const len = args[a.len]!;
          // move_addr_to_kernel: an int length outside 0..sizeof(struct sockaddr_storage) is -EINVAL.
          if (len < 0 || len > SOCKADDR_STORAGE_SIZE) return { errno: EINVAL, arg: a.len, why: `${spec.args[a.len]?.name ?? 'addrlen'} ${len} is not in 0..${SOCKADDR_STORAGE_SIZE}` };
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, len);
          if (r !== undefined) return r;
          if (len === 0) break;
          const b = this.memory.read(cpu, x, len);
          if (b === undefined) return { errno: EFAULT, arg: i, why: `${a.name} (${hex(x)}) is not readable` };
          if (!copies.add(cpu, i, b)) return this.tooBig(i, a.name, len);
          if (len >= 2) {
            // sin_port and sin_addr are in network byte order.
            const dv = new DataView(b.buffer);
            addresses.set(i, { family: dv.getUint16(0, true), port: len >= 4 ? dv.getUint16(2, false) : 0, addr: len >= 8 ? dv.getUint32(4, false) : 0 });
          }
          break;
        }
        case 'out-lenp': {
          const lenp = args[a.lenp]!;
          if (x === 0 || lenp === 0) break;
          // The length's own pointer first: it must be the program's before it is read. It is
          // read once, into the copy the kernel gets, so the length checked is the length used.
          const lr = this.range(a.lenp, spec.args[a.lenp]?.name ?? 'length', lenp, 4);
          if (lr !== undefined) return lr;
          const lb = this.memory.read(cpu, lenp, 4);
          if (lb === undefined) return { errno: EFAULT, arg: a.lenp, why: `the length of ${a.name} (${hex(lenp)}) is not readable` };
          if (!copies.add(cpu, a.lenp, lb, lenp)) return this.tooBig(a.lenp, 'length', 4);
          const len = new DataView(lb.buffer).getInt32(0, true);
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, len);
          if (r !== undefined) return r;
          break;
        }
        case 'futex-word': {
          if (a.op !== undefined && !FUTEX_SECOND_WORD.has(args[a.op]! & FUTEX_CMD_MASK)) break;
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, 4);
          if (r !== undefined) return r;
          break;
        }
        case 'futex-timeout': {
          if (x === 0 || !FUTEX_TIMED.has(args[a.op]! & FUTEX_CMD_MASK)) break; // val2, a number
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, TIMESPEC_SIZE);
          if (r !== undefined) return r;
          const c = this.copy(cpu, copies, i, a.name, x, TIMESPEC_SIZE, 'in');
          if (c !== undefined) return c;
          break;
        }
        case 'self-pid':
          if (x !== 0 && x !== this.selfPid) return { errno: EPERM, arg: i, why: `${a.name} ${x} is not the sandboxed process` };
          break;
      }
    }
    return { nr: spec.nr, spec, args, strings, ...(addresses.size > 0 ? { addresses } : {}), ...(copies.list.length > 0 ? { copies: copies.list } : {}) };
  }

  /**
   * Copies [x, x + len) (already range-checked) for the kernel: its bytes for 'in' and 'inout',
   * zeroes for an 'out' buffer the runtime reads after the call; 'inout' and 'out' go back.
   */
  private copy(cpu: Cpu, copies: ArgCopies, arg: number, name: string, x: number, len: number, dir: 'in' | 'out' | 'inout'): Rejection | undefined {
    if (len > ARG_COPIES_SIZE) return this.tooBig(arg, name, len);
    const b = dir === 'out' ? new Uint8Array(len) : this.memory.read(cpu, x, len);
    if (b === undefined) return { errno: EFAULT, arg, why: `${name} [${hex(x)}, +${len}) is not readable` };
    if (!copies.add(cpu, arg, b, dir === 'in' ? undefined : x)) return this.tooBig(arg, name, len);
    return undefined;
  }

  private tooBig(arg: number, name: string, len: number): Rejection {
    return { errno: EINVAL, arg, why: `${name} (${len} bytes) does not fit the ${ARG_COPIES_SIZE / 1024} KiB the sandbox copies a call's arguments into` };
  }

  private len(l: Len, args: number[]): number {
    if (typeof l === 'number') return l;
    const n = args[l.arg]!;
    // A bitmap of n bits is read and written in whole 64-bit words (fs/select.c: FDS_BYTES).
    if (l.bitmap === true) return n < 0 ? n : Math.ceil(n / 64) * 8;
    return n * (l.scale ?? 1);
  }

  private range(arg: number, name: string, ptr: number, len: number): Rejection | undefined {
    const f = this.memory.windows.fault(ptr, len);
    if (f === undefined) return undefined;
    if (f === 'wraps') return { errno: EFAULT, arg, why: `${name} (${hex(ptr)}) with length ${hex(len)} (${BigInt.asUintN(64, BigInt(len))} as size_t) wraps around the address space` };
    const inWindow = this.memory.windows.windowOf(ptr);
    const why = inWindow !== undefined
      ? `${name} [${hex(ptr)}, +${len}) leaves the program's ${inWindow.name}`
      : `${name} [${hex(ptr)}, +${len}) points into ${this.where(ptr)}`;
    return { errno: EFAULT, arg, why };
  }

  private where(va: number): string {
    return this.regions.describe(va);
  }
}
