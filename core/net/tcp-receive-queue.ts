import { seqAdd, seqDiff, seqGt, seqLe } from './tcp-sequence.js';

interface OutOfOrderSegment {
  seq: number;
  data: Uint8Array;
  fin: boolean;
}

/**
 * What a connection has received and the application has not read: in-order bytes as views of
 * the frames they arrived in (the sk_receive_queue of skbs, no copy until recv), and segments
 * that arrived ahead of RCV.NXT, kept sorted by sequence number until the gap fills (the
 * out-of-order queue). Overlaps are trimmed when the segments are moved in order.
 */
export class TcpReceiveQueue {
  private readonly chunks: Uint8Array[] = [];
  private chunkHead = 0;
  private headOffset = 0;
  /** In-order bytes waiting for recv. */
  length = 0;
  private readonly ooo: OutOfOrderSegment[] = [];
  /** Bytes held out of order. */
  oooBytes = 0;
  /** A FIN became in-order while draining the out-of-order queue. */
  finReached = false;

  /** Segments held out of order. */
  get outOfOrderSegments(): number {
    return this.ooo.length;
  }

  get hasOutOfOrder(): boolean {
    return this.ooo.length > 0;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Copies up to `dst.length` bytes to `dst`; without `peek`, they leave the queue. */
  read(dst: Uint8Array, peek: boolean): number {
    const n = Math.min(dst.length, this.length);
    let copied = 0;
    let i = this.chunkHead;
    let off = this.headOffset;
    while (copied < n) {
      const c = this.chunks[i]!;
      const take = Math.min(c.length - off, n - copied);
      dst.set(c.subarray(off, off + take), copied);
      copied += take;
      off += take;
      if (off === c.length) {
        i++;
        off = 0;
      }
    }
    if (!peek) {
      for (let k = this.chunkHead; k < i; k++) this.chunks[k] = EMPTY;
      this.chunkHead = i;
      this.headOffset = off;
      this.length -= n;
      if (this.chunkHead === this.chunks.length) {
        this.chunks.length = 0;
        this.chunkHead = 0;
      } else if (this.chunkHead > 64 && this.chunkHead * 2 > this.chunks.length) {
        this.chunks.splice(0, this.chunkHead);
        this.chunkHead = 0;
      }
    }
    return n;
  }

  /**
   * Queues a segment that starts after RCV.NXT. Returns false when it brings nothing new (it lies
   * inside one already queued).
   */
  insertOutOfOrder(seq: number, data: Uint8Array, fin: boolean): boolean {
    const end = seqAdd(seq, data.length);
    let i = this.ooo.length;
    while (i > 0 && seqGt(this.ooo[i - 1]!.seq, seq)) i--;
    const prev = this.ooo[i - 1];
    if (prev !== undefined && seqLe(end, seqAdd(prev.seq, prev.data.length)) && (!fin || prev.fin)) return false;
    this.ooo.splice(i, 0, { seq, data, fin });
    this.oooBytes += data.length;
    return true;
  }

  /**
   * Moves every queued segment that RCV.NXT has reached into the in-order queue, trimming what
   * was already received; returns the new RCV.NXT (FIN included when it becomes in order).
   */
  drainOutOfOrder(rcvNxt: number): number {
    this.finReached = false;
    while (this.ooo.length > 0) {
      const s = this.ooo[0]!;
      if (seqGt(s.seq, rcvNxt)) break;
      this.ooo.shift();
      this.oooBytes -= s.data.length;
      const skip = seqDiff(rcvNxt, s.seq);
      if (skip < s.data.length) {
        this.append(s.data.subarray(skip));
        rcvNxt = seqAdd(rcvNxt, s.data.length - skip);
      }
      if (s.fin && skip <= s.data.length) {
        rcvNxt = seqAdd(rcvNxt, 1);
        this.finReached = true;
        this.dropOutOfOrder();
        break;
      }
    }
    return rcvNxt;
  }

  dropOutOfOrder(): void {
    this.ooo.length = 0;
    this.oooBytes = 0;
  }

  clear(): void {
    this.chunks.length = 0;
    this.chunkHead = 0;
    this.headOffset = 0;
    this.length = 0;
    this.dropOutOfOrder();
  }
}

const EMPTY = new Uint8Array(0);
