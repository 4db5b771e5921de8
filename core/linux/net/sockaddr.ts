import { AF_INET, EAFNOSUPPORT, EFAULT, EINVAL, SOCKADDR_IN_SIZE } from '../linux-abi.js';
import type { SyscallContext } from '../syscall-table.js';
import type { InetAddress } from './socket-file.js';

/** struct sockaddr_in from user memory: the address, or -errno. */
export function readSockaddr(ctx: SyscallContext, va: number, len: number): InetAddress | number {
  if (len < 2 || len > 128) return -EINVAL;
  const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, va, Math.min(len, SOCKADDR_IN_SIZE));
  if (b === undefined) return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint16(0, true) !== AF_INET) return -EAFNOSUPPORT;
  if (len < SOCKADDR_IN_SIZE) return -EINVAL;
  return { port: dv.getUint16(2, false), addr: dv.getUint32(4, false) };
}

/** Writes a sockaddr_in through (addr, *lenp) as Linux's move_addr_to_user: truncated, *lenp = 16. */
export function writeSockaddr(ctx: SyscallContext, va: number, lenp: number, a: InetAddress): number {
  if (va === 0) return 0;
  const lb = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, lenp, 4);
  if (lb === undefined) return -EFAULT;
  const room = new DataView(lb.buffer, lb.byteOffset, 4).getInt32(0, true);
  if (room < 0) return -EINVAL;
  const b = new Uint8Array(SOCKADDR_IN_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, AF_INET, true);
  dv.setUint16(2, a.port, false);
  dv.setUint32(4, a.addr >>> 0, false);
  if (room > 0 && !ctx.kernel.copyToUser(ctx.cpu, ctx.task, va, b.subarray(0, Math.min(room, SOCKADDR_IN_SIZE)))) return -EFAULT;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, SOCKADDR_IN_SIZE, true);
  return ctx.kernel.copyToUser(ctx.cpu, ctx.task, lenp, out) ? 0 : -EFAULT;
}

