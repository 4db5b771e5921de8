import { injectable } from 'inversify';
import { PAGE_SIZE } from '../../vtx/arch.js';
import type { Machine } from '../../vtx/machine.js';
import { CACHE_LINE, ConnectionMemory } from '../../net/connection-memory.js';

/**
 * A slab is 8 contiguous frames (order 3, what SLUB picks for these object sizes on x86-64), so
 * consecutive objects start at every line offset within a page rather than at the same few: with
 * two 1,984-byte objects per 4 KiB page, the lines each path touches would all fall in the same
 * few cache sets.
 */
const SLAB_FRAMES = 8;
const SLAB_BYTES = SLAB_FRAMES * PAGE_SIZE;

/** Frames the slab leaves to the rest of the kernel and to programs: beyond, objects go untracked (-1). */
const RESERVE_FRAMES = 1024;

/** One size of object: its free list (most recently freed last) and the page being carved. */
interface SlabCache {
  readonly free: number[];
  /** The slab being carved and the offset of its next object. */
  page: number;
  next: number;
}

/**
 * The kernel's per-connection objects (tcp_sock, socket, file, epitem) as slab objects in frames
 * of the kernel's page allocator, each its real size, so that the last-level cache proxy sees
 * where they are: each object has physical lines of its own, and a freed object is the first
 * one reused (SLUB's per-CPU free list is LIFO), so a connection opened after one closed finds
 * its memory warm, as on Linux. The objects hold no bytes the model reads: only the proxy
 * looks at their addresses. Touches are charged to the CPU that runs the path, or to CPU 0 for
 * work outside any CPU (a kernel timer), as the driver does.
 */
@injectable()
export class SlabMemory implements ConnectionMemory {
  private readonly caches = new Map<number, SlabCache>();
  /** Objects given out (live), for tests and reports. */
  live = 0;

  constructor(private readonly machine: Machine) {}

  allocate(bytes: number): number {
    if (!(bytes > 0 && bytes <= PAGE_SIZE)) throw new RangeError(`slab object of ${bytes} bytes`);
    let c = this.caches.get(bytes);
    if (c === undefined) this.caches.set(bytes, (c = { free: [], page: -1, next: SLAB_BYTES }));
    let addr: number;
    if (c.free.length > 0) addr = c.free.pop()!;
    else {
      if (c.next + bytes > SLAB_BYTES) {
        const frames = this.machine.frames;
        if (frames.freeFrames <= RESERVE_FRAMES + SLAB_FRAMES || !frames.canAllocContiguous(SLAB_FRAMES, 1)) return -1;
        c.page = frames.allocContiguous(SLAB_FRAMES, 1);
        c.next = 0;
      }
      addr = c.page + c.next;
      // Slab objects are aligned to the cache line (SLAB_HWCACHE_ALIGN, which these caches use).
      c.next += Math.ceil(bytes / CACHE_LINE) * CACHE_LINE;
    }
    this.live++;
    return addr;
  }

  free(addr: number, bytes: number): void {
    const c = this.caches.get(bytes);
    if (c === undefined) throw new RangeError(`slab: free of a ${bytes}-byte object never allocated`);
    c.free.push(addr);
    this.live--;
  }

  touchLines(addr: number, lines: Uint8Array): void {
    const llc = this.machine.llc;
    if (llc === undefined) return;
    const cpu = this.machine.running ?? this.machine.cpus[0]!;
    for (let i = 0; i < lines.length; i++) llc.touch(cpu, addr + lines[i]! * CACHE_LINE, 1);
  }

  touch(addr: number, bytes: number): void {
    const llc = this.machine.llc;
    if (llc === undefined) return;
    llc.touch(this.machine.running ?? this.machine.cpus[0]!, addr, bytes);
  }
}
