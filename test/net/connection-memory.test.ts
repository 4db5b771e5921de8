/**
 * The stack's hook for the last-level cache proxy: each TCP connection has a struct tcp_sock of
 * Linux's size in the host's ConnectionMemory, the paths touch its lines, and it is freed once
 * the connection is closed and gone; a stack without one costs nothing. The Linux SlabMemory
 * reuses the last object freed first (SLUB's free list).
 */
import { describe, expect, it } from 'vitest';
import { ConnectionMemory, TCP_SOCK_BYTES, TcpSockLines } from '../../core/net/connection-memory.js';
import { SlabMemory } from '../../core/linux/net/slab-memory.js';
import { Machine } from '../../core/vtx/machine.js';
import { connect, readAll } from './tcp-helpers.js';
import { stackPair } from './test-wire.js';

class RecordingMemory implements ConnectionMemory {
  next = 0x10_0000;
  readonly live = new Set<number>();
  readonly touched: Array<[number, Uint8Array]> = [];
  allocate(bytes: number): number {
    const a = this.next;
    this.next += bytes;
    this.live.add(a);
    return a;
  }
  free(addr: number): void {
    expect(this.live.delete(addr)).toBe(true);
  }
  touchLines(addr: number, lines: Uint8Array): void {
    this.touched.push([addr, lines]);
  }
  touch(): void {}
}

describe('ConnectionMemory: the per-connection state the cache proxy sees', () => {
  it('a connection has a tcp_sock; a write and a read touch their lines; closing frees it', () => {
    const pair = stackPair();
    const mem = new RecordingMemory();
    pair.b.memory = mem;
    const { server, client, conn } = connect(pair);
    // The listener and the accepted connection each have one (the client's stack has no memory).
    expect(mem.live.size).toBe(2);
    expect(mem.next - 0x10_0000).toBe(2 * TCP_SOCK_BYTES);
    mem.touched.length = 0;
    expect(client.send(new Uint8Array(64))).toBe(64);
    pair.clock.runWhile(() => conn.available() < 64);
    expect(mem.touched.some(([, l]) => l === TcpSockLines.receiveData)).toBe(true);
    readAll(conn);
    expect(mem.touched.some(([, l]) => l === TcpSockLines.recvmsg)).toBe(true);
    expect(conn.send(new Uint8Array(64))).toBe(64);
    expect(mem.touched.some(([, l]) => l === TcpSockLines.sendmsg)).toBe(true);
    expect(mem.touched.some(([, l]) => l === TcpSockLines.transmit)).toBe(true);
    conn.abort();
    server.close();
    pair.clock.runWhile(() => mem.live.size > 0, 10_000);
    expect(mem.live.size).toBe(0);
  });

  it('SlabMemory: objects of their size, line aligned, the last freed reused first; none when memory runs short', () => {
    const m = new Machine({ memory: 8 << 20 });
    const slab = new SlabMemory(m);
    const a = slab.allocate(TCP_SOCK_BYTES);
    const b = slab.allocate(TCP_SOCK_BYTES);
    expect(b - a).toBe(Math.ceil(TCP_SOCK_BYTES / 64) * 64);
    slab.free(a, TCP_SOCK_BYTES);
    expect(slab.allocate(TCP_SOCK_BYTES)).toBe(a);
    // 8 MiB is 2048 frames; the slab leaves 1024 to the rest of the kernel and then gives -1.
    let last = 0;
    for (let i = 0; i < 10_000 && last >= 0; i++) last = slab.allocate(4096);
    expect(last).toBe(-1);
    expect(m.frames.freeFrames).toBeGreaterThan(1024);
  });
});
