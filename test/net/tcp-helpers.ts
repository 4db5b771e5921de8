import { expect } from 'vitest';
import { EINPROGRESS } from '../../core/linux/linux-abi.js';
import { TcpSocket } from '../../core/net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';
import { B_ADDR, type StackPair } from './test-wire.js';

export interface Connection {
  server: TcpSocket;
  client: TcpSocket;
  conn: TcpSocket;
}

/** A listener on b:port, a client on a connecting to it, and the accepted connection. */
export function connect(pair: StackPair, port = 80, backlog = 16): Connection {
  const server = pair.b.tcpSocket();
  expect(server.bind(0, port)).toBe(0);
  expect(server.listen(backlog)).toBe(0);
  const client = pair.a.tcpSocket();
  expect(client.connect(B_ADDR, port)).toBe(-EINPROGRESS);
  pair.clock.runWhile(() => client.state !== TCP_ESTABLISHED || server.acceptQueue.length === 0);
  const conn = server.accept();
  if (typeof conn === 'number') throw new Error(`accept failed: ${conn}`);
  return { server, client, conn };
}

/** Everything `sock` can read now. */
export function readAll(sock: TcpSocket): Uint8Array {
  const out = new Uint8Array(sock.available());
  const n = sock.recv(out);
  expect(n).toBe(out.length);
  return out;
}

/** A deterministic byte pattern. */
export function pattern(len: number, seed = 7): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * Streams `data` from `from` to `to`, writing as the send buffer allows and reading as data
 * arrives, until all of it has been read; returns what was read.
 */
export function transfer(pair: StackPair, from: TcpSocket, to: TcpSocket, data: Uint8Array, maxEvents = 5_000_000): Uint8Array {
  const received = new Uint8Array(data.length);
  let sent = 0;
  let got = 0;
  const pump = (): void => {
    while (sent < data.length) {
      const n = from.send(data.subarray(sent));
      if (n <= 0) break;
      sent += n;
    }
    while (got < data.length) {
      const n = to.recv(received.subarray(got));
      if (n <= 0) break;
      got += n;
    }
  };
  from.onWake = pump;
  to.onWake = pump;
  pump();
  pair.clock.runWhile(() => got < data.length, maxEvents);
  from.onWake = null;
  to.onWake = null;
  return received.subarray(0, got);
}
