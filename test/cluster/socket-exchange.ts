import { expect } from 'vitest';
import type { Cluster } from '../../core/cluster/cluster.js';
import { SERVER_ADDR } from '../../core/cluster/echo-experiment.js';
import type { MemcachedRig } from '../../core/cluster/memcached-experiment.js';
import type { TcpSocket } from '../../core/net/tcp-socket.js';
import { TCP_ESTABLISHED } from '../../core/net/tcp-state.js';

/** A raw TCP connection from the memcached rig's client host to the server's port 11211, established. */
export function rawMemcachedConnection(rig: MemcachedRig): TcpSocket {
  const s = rig.client.stack.tcpSocket();
  s.connect(SERVER_ADDR, 11211);
  rig.cluster.run(rig.cluster.events.now + 1e9);
  expect(s.state).toBe(TCP_ESTABLISHED);
  return s;
}

/**
 * Sends `tx` on a connected client socket as its window allows and reads what comes back, 16 kB
 * at a time (a client that reads slowly), stepping the cluster 100 µs between rounds, until `want`
 * bytes have arrived or 2,000 rounds have passed. Returns what arrived.
 */
export function exchange(cluster: Cluster, s: TcpSocket, tx: Uint8Array, want: number): Uint8Array {
  const rx = new Uint8Array(want + 65536);
  let got = 0;
  for (let step = 0; step < 2000 && got < want; step++) {
    if (tx.length > 0) {
      const n = s.send(tx);
      if (n > 0) tx = tx.subarray(n);
    }
    for (;;) {
      const k = s.recv(rx.subarray(got, got + 16384));
      if (k <= 0) break;
      got += k;
    }
    cluster.run(cluster.events.now + 1e8);
  }
  return rx.subarray(0, got);
}
