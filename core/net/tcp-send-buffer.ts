/**
 * The bytes of a connection from SND.UNA on — sent and unacknowledged, then not yet sent — in a
 * ring of fixed capacity (the send buffer, SO_SNDBUF). Segments copy out of it when they are
 * built, and retransmissions read the same bytes again; ACKs drop bytes from the head.
 */
export class TcpSendBuffer {
  private buf: Uint8Array;
  private head = 0;
  length = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  get capacity(): number {
    return this.buf.length;
  }

  get free(): number {
    return this.buf.length - this.length;
  }

  /** Appends as much of `src` as fits; returns the bytes taken. */
  push(src: Uint8Array): number {
    const n = Math.min(src.length, this.free);
    const cap = this.buf.length;
    const tail = (this.head + this.length) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(0, first), tail);
    if (n > first) this.buf.set(src.subarray(first, n), 0);
    this.length += n;
    return n;
  }

  /** Copies `len` bytes starting `offset` bytes after the head into `dst` at `dstOff`. */
  copyOut(offset: number, dst: Uint8Array, dstOff: number, len: number): void {
    const cap = this.buf.length;
    const start = (this.head + offset) % cap;
    const first = Math.min(len, cap - start);
    dst.set(this.buf.subarray(start, start + first), dstOff);
    if (len > first) dst.set(this.buf.subarray(0, len - first), dstOff + first);
  }

  /** Forgets `n` bytes at the head (they were acknowledged). */
  drop(n: number): void {
    this.head = (this.head + n) % this.buf.length;
    this.length -= n;
    if (this.length === 0) this.head = 0;
  }

  /** A new capacity (setsockopt SO_SNDBUF); never below what is queued. */
  resize(capacity: number): void {
    const cap = Math.max(capacity, this.length);
    const next = new Uint8Array(cap);
    this.copyOut(0, next, 0, this.length);
    this.buf = next;
    this.head = 0;
  }
}
