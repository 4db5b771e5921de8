import { PAGE_SIZE } from './arch.js';
import { PhysicalMemory } from './physical-memory.js';

export class OutOfMemoryError extends Error {
  constructor(what: string) {
    super(`out of physical memory: ${what}`);
    this.name = 'OutOfMemoryError';
  }
}

/**
 * Allocator of 4 KiB host-physical frames (what Linux's buddy allocator is to the kernel model).
 * Frames come zeroed, so "pre-zeroed page" costs nothing extra here — the cost model charges the
 * kernel path instead. Frame 0 is never handed out: a zero PTE address stays recognisably bad.
 */
export class FrameAllocator {
  private readonly free: Int32Array;
  private freeCount = 0;
  private next: number;
  private readonly limit: number;
  private readonly refs: Uint16Array;
  allocated = 0;
  peak = 0;
  /** Called with a frame's address when its last reference goes (the native-code registry unbinds its stubs). */
  onRelease: ((pa: number) => void) | undefined;

  constructor(
    readonly mem: PhysicalMemory,
    /** First frame number this allocator manages (frames below are reserved, e.g. firmware). */
    firstFrame = 1,
    limitFrame = mem.frames,
  ) {
    this.next = Math.max(1, firstFrame);
    this.limit = limitFrame;
    this.free = new Int32Array(Math.max(0, limitFrame - this.next));
    this.refs = new Uint16Array(mem.frames);
  }

  /** Returns the physical address of a zeroed frame with reference count 1. */
  alloc(): number {
    let frame: number;
    if (this.freeCount > 0) {
      frame = this.free[--this.freeCount]!;
      this.mem.zero(frame * PAGE_SIZE, PAGE_SIZE);
    } else if (this.next < this.limit) {
      frame = this.next++;
    } else {
      throw new OutOfMemoryError(`all ${this.limit} frames in use`);
    }
    this.refs[frame] = 1;
    this.allocated++;
    if (this.allocated > this.peak) this.peak = this.allocated;
    return frame * PAGE_SIZE;
  }

  /** Allocates `count` physically contiguous, naturally aligned frames (for 2 MiB pages). */
  allocContiguous(count: number, alignFrames = count): number {
    let start = Math.ceil(this.next / alignFrames) * alignFrames;
    if (start + count > this.limit) throw new OutOfMemoryError(`no ${count} contiguous frames`);
    // The frames skipped for alignment go to the free list.
    for (let f = this.next; f < start; f++) this.free[this.freeCount++] = f;
    this.next = start + count;
    for (let f = start; f < start + count; f++) this.refs[f] = 1;
    this.allocated += count;
    if (this.allocated > this.peak) this.peak = this.allocated;
    return start * PAGE_SIZE;
  }

  /** Whether `allocContiguous(count, alignFrames)` would succeed now. */
  canAllocContiguous(count: number, alignFrames = count): boolean {
    return Math.ceil(this.next / alignFrames) * alignFrames + count <= this.limit;
  }

  get(pa: number): void {
    this.refs[Math.floor(pa / PAGE_SIZE)]!++;
  }

  refCount(pa: number): number {
    return this.refs[Math.floor(pa / PAGE_SIZE)]!;
  }

  /** Drops one reference; the frame returns to the free list at zero. */
  put(pa: number): void {
    const frame = Math.floor(pa / PAGE_SIZE);
    const r = this.refs[frame]!;
    if (r === 0) throw new Error(`frame ${pa.toString(16)} freed twice`);
    this.refs[frame] = r - 1;
    if (r === 1) {
      this.free[this.freeCount++] = frame;
      this.allocated--;
      this.onRelease?.(frame * PAGE_SIZE);
    }
  }

  /**
   * Frames from here up have never been handed out. They are zero: `alloc` hands them out
   * without zeroing, so nothing may write them before (RamPool relies on it to zero a machine's
   * memory for reuse only below this frame).
   */
  get highWater(): number {
    return this.next;
  }

  get freeFrames(): number {
    return this.freeCount + (this.limit - this.next);
  }
}
