/**
 * Buffers of machines that are done, kept for the next machine of the same size.
 *
 * A new 512 MiB ArrayBuffer is cheap to create (calloc → mmap: the host commits each page when
 * it is first touched) but expensive to live with: V8 counts it as external memory and answers
 * every such allocation with garbage collections (two scavenges and a mark-compact per machine),
 * the host faults each touched page in anew, and the old buffer goes back to the host only when
 * a collection finds it. A process that builds machine after machine — `bench exec`, a test
 * file, the IX and DSM experiments — spent a third of each small run's time there.
 *
 * Returned buffers are zeroed again before reuse, but only as far as they were used: a machine's
 * frame allocator hands out frames from the bottom up and never lets anything write above the
 * highest frame it has handed out (FrameAllocator.highWater), because it hands out never-used
 * frames without zeroing them. So the bytes below that mark are the only ones that can be
 * non-zero, and a reused buffer is as zero as a new one: runs on a new and on a reused buffer
 * give the same bits (test/vtx/ram-pool.test.ts).
 */
export class RamPool {
  private readonly buffers: ArrayBuffer[] = [];
  /** Bytes from 0 that may be non-zero, per pooled buffer. */
  private readonly dirty: number[] = [];
  /** Buffers handed out again (host-side figure). */
  reused = 0;

  constructor(
    /** Buffers kept at most (the rest are left to the collector). */
    readonly capacity = 2,
    /**
     * A buffer whose used part is larger is not kept: zeroing it would cost more than a new one,
     * and it would keep that much host memory committed.
     */
    readonly maxDirty = 128 << 20,
  ) {}

  /** A zeroed buffer of `size` bytes from the pool, or undefined (allocate a new one). */
  take(size: number): ArrayBuffer | undefined {
    for (let i = 0; i < this.buffers.length; i++) {
      const b = this.buffers[i]!;
      if (b.byteLength !== size) continue;
      const dirty = this.dirty[i]!;
      this.buffers.splice(i, 1);
      this.dirty.splice(i, 1);
      new Uint8Array(b, 0, dirty).fill(0);
      this.reused++;
      return b;
    }
    return undefined;
  }

  /**
   * Takes back `buffer`, of which only bytes [0, dirty) may be non-zero. The caller must never
   * touch it again.
   */
  give(buffer: ArrayBuffer, dirty: number): void {
    if (!(dirty >= 0 && dirty <= buffer.byteLength) || dirty > this.maxDirty || this.buffers.includes(buffer)) return;
    if (this.buffers.length >= this.capacity) {
      this.buffers.shift();
      this.dirty.shift();
    }
    this.buffers.push(buffer);
    this.dirty.push(dirty);
  }

  /** Drops every pooled buffer (to the collector). */
  clear(): void {
    this.buffers.length = 0;
    this.dirty.length = 0;
  }

  get size(): number {
    return this.buffers.length;
  }
}

/** The process's pool (per worker thread: each has its own). */
export const RAM_POOL = new RamPool();
