import { EFAULT, EINVAL, ENAMETOOLONG, ENOTTY, EPERM, FLOCK_SIZE, IOVEC_SIZE, PATH_MAX, UIO_MAXIOV } from '../../core/linux/linux-abi.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { CheckedCall, Rejection, SocketAddress } from './checked-call.js';
import { GuestMemory } from './guest-memory.js';
import { RuntimeRegions } from './runtime-regions.js';
import { FCNTL_FLOCK_CMDS, IOCTL_ARGS, Len, SyscallSpec } from './syscall-specs.js';

const hex = (x: number): string => (x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16));

/** Instruction counts charged for the checks (the C sandbox's check_extent and check_string). */
export const CHECK_COSTS = { perArgument: 4, perRange: 6, perStringByte: 2, perIovec: 8 };

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

  check(cpu: Cpu, spec: SyscallSpec, args: number[]): CheckedCall | Rejection {
    const strings = new Map<number, string>();
    const addresses = new Map<number, SocketAddress>();
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
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, this.len(a.len, args));
          if (r !== undefined) return r;
          break;
        }
        case 'string':
        case 'path': {
          const s = this.memory.readString(cpu, x, PATH_MAX - 1);
          if (s === 'fault') {
            const where = this.memory.windows.windowOf(x) !== undefined ? 'runs into memory the program has not mapped' : `points into ${this.where(x)}`;
            return { errno: EFAULT, arg: i, why: `${a.name} (${hex(x)}) ${where}` };
          }
          if (s === 'too-long') return { errno: ENAMETOOLONG, arg: i, why: `${a.name} is longer than PATH_MAX` };
          cpu.charge(CHECK_COSTS.perStringByte * (s.length + 1) * ins);
          strings.set(i, s);
          break;
        }
        case 'iovec': {
          const count = args[a.count]!;
          if (count < 0 || count > UIO_MAXIOV) return { errno: EINVAL, arg: a.count, why: `iovcnt ${count} is not in 0..${UIO_MAXIOV}` };
          const r = this.range(i, a.name, x, count * IOVEC_SIZE);
          if (r !== undefined) return r;
          for (let k = 0; k < count; k++) {
            cpu.charge(CHECK_COSTS.perIovec * ins);
            const base = this.memory.read64(cpu, x + k * IOVEC_SIZE);
            const len = this.memory.read64(cpu, x + k * IOVEC_SIZE + 8);
            if (base === undefined || len === undefined) return { errno: EFAULT, arg: i, why: `${a.name}[${k}] is not readable` };
            const rr = this.range(i, `${a.name}[${k}].iov_base`, base, len);
            if (rr !== undefined) return rr;
          }
          break;
        }
        case 'ioctl-arg': {
          const req = args[a.request]! >>> 0;
          const io = IOCTL_ARGS.get(req);
          if (io === undefined) return { errno: ENOTTY, arg: a.request, why: `ioctl request ${hex(req)} is not one the sandbox knows (TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX)` };
          if (io.kind !== 'none') {
            const r = this.range(i, `${a.name} (${io.name})`, x, io.size);
            if (r !== undefined) return r;
          }
          break;
        }
        case 'fcntl-arg': {
          if (!FCNTL_FLOCK_CMDS.has(args[a.cmd]!)) break;
          const r = this.range(i, `${a.name} (struct flock)`, x, FLOCK_SIZE);
          if (r !== undefined) return r;
          break;
        }
        case 'sockaddr': {
          if (x === 0) break; // the kernel answers a NULL address itself (-EFAULT, or none for sendto)
          const len = args[a.len]!;
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, len);
          if (r !== undefined) return r;
          if (len >= 2) {
            const b = this.memory.read(cpu, x, Math.min(len, 8));
            if (b === undefined) return { errno: EFAULT, arg: i, why: `${a.name} (${hex(x)}) is not readable` };
            // sin_port and sin_addr are in network byte order.
            const dv = new DataView(b.buffer);
            addresses.set(i, { family: dv.getUint16(0, true), port: b.length >= 4 ? dv.getUint16(2, false) : 0, addr: b.length >= 8 ? dv.getUint32(4, false) : 0 });
          }
          break;
        }
        case 'out-lenp': {
          const lenp = args[a.lenp]!;
          if (x === 0 || lenp === 0) break;
          // The length's own pointer first: it must be the program's before it is read.
          const lr = this.range(a.lenp, spec.args[a.lenp]?.name ?? 'length', lenp, 4);
          if (lr !== undefined) return lr;
          const lb = this.memory.read(cpu, lenp, 4);
          const len = lb === undefined ? undefined : new DataView(lb.buffer).getInt32(0, true);
          if (len === undefined) return { errno: EFAULT, arg: a.lenp, why: `the length of ${a.name} (${hex(lenp)}) is not readable` };
          cpu.charge(CHECK_COSTS.perRange * ins);
          const r = this.range(i, a.name, x, len);
          if (r !== undefined) return r;
          break;
        }
        case 'self-pid':
          if (x !== 0 && x !== this.selfPid) return { errno: EPERM, arg: i, why: `${a.name} ${x} is not the sandboxed process` };
          break;
      }
    }
    return { nr: spec.nr, spec, args, strings, ...(addresses.size > 0 ? { addresses } : {}) };
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
