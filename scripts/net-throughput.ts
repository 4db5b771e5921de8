/**
 * How fast the TCP/IP stack runs on the host, and what a transfer looks like in simulated time:
 * two stacks on an in-memory wire (test/net/test-wire.ts), one bulk transfer per scenario.
 * Usage: npx tsx scripts/net-throughput.ts
 */
import 'reflect-metadata';
import { connect, pattern, transfer } from '../test/net/tcp-helpers.js';
import { stackPair, type WireOptions } from '../test/net/test-wire.js';

const scenarios: Array<{ name: string; bytes: number; wire: WireOptions }> = [
  { name: '10 MB, 50 µs one way, no loss', bytes: 10 << 20, wire: { delayNs: 50_000 } },
  { name: '1 MB, 500 µs, 1 % loss, 2 % reordered, 0.5 % duplicated', bytes: 1 << 20,
    wire: { delayNs: 500_000, loss: 0.01, reorder: 0.02, reorderDelayNs: 700_000, duplicate: 0.005, seed: 42 } },
];

for (const s of scenarios) {
  const pair = stackPair(s.wire);
  const { client, conn } = connect(pair);
  const data = pattern(s.bytes);
  const start = pair.clock.now();
  const wall = process.hrtime.bigint();
  const got = transfer(pair, client, conn, data, 50_000_000);
  const wallS = Number(process.hrtime.bigint() - wall) / 1e9;
  const simS = (pair.clock.now() - start) / 1e9;
  const a = pair.a.counters;
  const b = pair.b.counters;
  const segs = a.Tcp.OutSegs + a.Tcp.RetransSegs + b.Tcp.OutSegs;
  if (got.length !== data.length) throw new Error(`${s.name}: ${got.length} of ${data.length} bytes`);
  console.log(`${s.name}
  simulated ${simS.toFixed(3)} s, goodput ${((s.bytes * 8) / simS / 1e6).toFixed(1)} Mb/s (no link rate: window- and RTT-bound)
  segments ${segs} (a out ${a.Tcp.OutSegs}, retrans ${a.Tcp.RetransSegs}, fast retrans ${a.TcpExt.TCPFastRetrans}, timeouts ${a.TcpExt.TCPTimeouts}; b out ${b.Tcp.OutSegs}, delayed ACKs ${b.TcpExt.DelayedACKs}, ofo ${b.TcpExt.TCPOFOQueue})
  wall ${wallS.toFixed(3)} s, ${(segs / wallS / 1e3).toFixed(0)} k segments/s of host time`);
}
