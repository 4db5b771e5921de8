import type { TcpSocket } from '../net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../net/tcp-state.js';

const LF = 0x0a;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** What the server answered: a GET found its key or not, a SET was stored, or an error line. */
export type MemcachedReply = 'hit' | 'miss' | 'stored' | 'error';

interface Outstanding {
  readonly bytes: Uint8Array;
  readonly get: boolean;
  readonly key: string;
  readonly done: (reply: MemcachedReply) => void;
  hit: boolean;
}

/**
 * One client connection speaking memcached's text protocol over a TcpSocket of a modelled host:
 * `get KEY` and `set KEY 0 0 N` requests, pipelined up to `depth` on the wire (mutilate's
 * --depth; the paper's runs allow 4), the rest queued at the client in order. Replies are parsed
 * as they arrive, in request order as memcached sends them: `VALUE KEY FLAGS N` + data + `END`,
 * `END`, `STORED`, or `ERROR` / `CLIENT_ERROR …` / `SERVER_ERROR …`. A reply that fits none of
 * these (or names another key) counts in `protocolErrors` and ends the request it answers.
 */
export class MemcachedConnection {
  private readonly queued: Outstanding[] = [];
  private readonly inFlight: Outstanding[] = [];
  private readonly tx: Uint8Array[] = [];
  private rx = new Uint8Array(4096);
  private rxStart = 0;
  private rxEnd = 0;
  private readonly scratch = new Uint8Array(16384);
  protocolErrors = 0;
  replies = 0;

  constructor(readonly sock: TcpSocket, readonly depth = 4) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`depth must be ≥ 1, got ${depth}`);
    sock.onWake = () => this.wake();
  }

  get established(): boolean {
    return this.sock.state === TCP_ESTABLISHED;
  }

  /** Requests waiting for a reply, on the wire or queued at the client. */
  get outstanding(): number {
    return this.queued.length + this.inFlight.length;
  }

  get(key: string, done: (reply: MemcachedReply) => void): void {
    this.issue({ bytes: enc.encode(`get ${key}\r\n`), get: true, key, done, hit: false });
  }

  /** A SET of `value` (its bytes are sent as they are; memcached treats them as opaque). */
  set(key: string, value: Uint8Array, done: (reply: MemcachedReply) => void): void {
    const head = enc.encode(`set ${key} 0 0 ${value.length}\r\n`);
    const bytes = new Uint8Array(head.length + value.length + 2);
    bytes.set(head);
    bytes.set(value, head.length);
    bytes[bytes.length - 2] = 0x0d;
    bytes[bytes.length - 1] = LF;
    this.issue({ bytes, get: false, key, done, hit: false });
  }

  private issue(r: Outstanding): void {
    this.queued.push(r);
    this.pump();
  }

  /** Moves queued requests onto the wire while fewer than `depth` are there. */
  private pump(): void {
    while (this.inFlight.length < this.depth && this.queued.length > 0 && this.established) {
      const r = this.queued.shift()!;
      this.inFlight.push(r);
      this.tx.push(r.bytes);
    }
    this.flush();
  }

  private flush(): void {
    while (this.tx.length > 0) {
      const b = this.tx[0]!;
      const n = this.sock.send(b);
      if (n <= 0) return; // the send buffer is full (or the connection is gone): on the next wake-up
      if (n < b.length) {
        this.tx[0] = b.subarray(n);
        return;
      }
      this.tx.shift();
    }
  }

  private wake(): void {
    for (;;) {
      const k = this.sock.recv(this.scratch);
      if (k <= 0) break;
      this.append(this.scratch.subarray(0, k));
    }
    this.parse();
    this.pump();
  }

  private append(d: Uint8Array): void {
    if (this.rxEnd + d.length > this.rx.length) {
      const live = this.rx.subarray(this.rxStart, this.rxEnd);
      const next = new Uint8Array(Math.max(this.rx.length, 2 * (live.length + d.length)));
      next.set(live);
      this.rx = next;
      this.rxEnd -= this.rxStart;
      this.rxStart = 0;
    }
    this.rx.set(d, this.rxEnd);
    this.rxEnd += d.length;
  }

  private parse(): void {
    for (;;) {
      const nl = this.rx.subarray(this.rxStart, this.rxEnd).indexOf(LF);
      if (nl < 0) break;
      const lineEnd = this.rxStart + nl;
      const line = dec.decode(this.rx.subarray(this.rxStart, this.rx[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd));
      const head = this.inFlight[0];
      if (head === undefined) {
        // a reply to nothing: the server and client disagree about the stream
        this.protocolErrors++;
        this.rxStart = lineEnd + 1;
        continue;
      }
      if (head.get && line.startsWith('VALUE ')) {
        const f = line.split(' ');
        const n = Number(f[3]);
        if (f.length !== 4 || !Number.isInteger(n) || n < 0 || f[1] !== head.key) {
          this.protocolErrors++;
          this.finish('error');
          this.rxStart = lineEnd + 1;
          continue;
        }
        // the data block and its "\r\n" must be here too
        if (lineEnd + 1 + n + 2 > this.rxEnd) break;
        head.hit = true;
        this.rxStart = lineEnd + 1 + n + 2;
        continue;
      }
      this.rxStart = lineEnd + 1;
      if (head.get && line === 'END') this.finish(head.hit ? 'hit' : 'miss');
      else if (!head.get && line === 'STORED') this.finish('stored');
      else if (line === 'ERROR' || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR')) this.finish('error');
      else {
        this.protocolErrors++;
        this.finish('error');
      }
    }
    if (this.rxStart === this.rxEnd) this.rxStart = this.rxEnd = 0;
  }

  private finish(reply: MemcachedReply): void {
    const r = this.inFlight.shift()!;
    this.replies++;
    r.done(reply);
  }
}
