import { injectable } from 'inversify';
import cliProgress from 'cli-progress';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { MemcachedRig } from '../../core/cluster/memcached-experiment.js';
import { WORKLOADS } from '../../core/cluster/memcached-workload.js';
import { kernelShare } from '../../core/vtx/cpu-mode.js';
import { wholeOption } from './ix-echo-application.js';
import { IX_MEMCACHED_MAX_CORES, IxMemcachedServer, ixMemcachedServer } from './ix-memcached-experiment.js';
import { KV_IX } from './ix-memcached-bench-suite.js';

/**
 * `dunesim run ix-dataplane/memcached`: kvserver-ix on an IX dataplane of one or more cores under a
 * mutilate-style open-loop load (IX Fig. 5's experiment at one point): the connections open,
 * every key is SET once, then requests of the chosen workload arrive at the chosen rate for the
 * chosen simulated time. Prints the throughput, the latency percentiles and the dataplane's
 * counts; a bar shows the simulated time on a terminal.
 */
@injectable()
export class IxMemcachedApplication implements Application {
  readonly plugin = 'ix-dataplane';
  readonly id = 'memcached';
  readonly description = 'kvserver (memcached protocol) on an IX dataplane of N cores under an open-loop ETC or USR load: throughput, latency percentiles, mechanism counts';
  readonly options = {
    workload: 'etc or usr (default usr)',
    rate: 'offered requests per second, 1000 to 5000000 (default 500000)',
    ms: 'simulated milliseconds of load, 1 to 1000 (default 10)',
    connections: 'client connections, 1 to 1024 (default 184)',
    depth: 'requests pipelined per connection, 1 to 64 (default 4)',
    records: 'keys, each SET before the load, 1 to 100000 (default 200)',
    batch: 'the batch bound B, 1 to 64 (default 64)',
    cores: `server cores, one elastic thread each, 1 to ${IX_MEMCACHED_MAX_CORES} (default 1)`,
  };

  run(ctx: RunContext): RunResult {
    const o = ctx.options;
    const wname = o.workload ?? 'usr';
    const workload = WORKLOADS[wname];
    if (workload === undefined || !Object.hasOwn(WORKLOADS, wname)) throw new UsageError(`--workload ${wname}: etc or usr`);
    const rate = wholeOption(o, 'rate', 500_000, 1000, 5_000_000);
    const ms = wholeOption(o, 'ms', 10, 1, 1000);
    const connections = wholeOption(o, 'connections', 184, 1, 1024);
    const depth = wholeOption(o, 'depth', 4, 1, 64);
    const records = wholeOption(o, 'records', 200, 1, 100_000);
    const batch = wholeOption(o, 'batch', 64, 1, 64);
    const cores = wholeOption(o, 'cores', 1, 1, IX_MEMCACHED_MAX_CORES);
    let server: IxMemcachedServer | undefined;
    const factory = ixMemcachedServer({ batch });
    const rig = new MemcachedRig({
      profile: ctx.profile, server: KV_IX, cpus: cores, workload, connections, depth, records,
      serverNode: (cluster, ro) => (server = factory(cluster, ro) as IxMemcachedServer),
    });
    const bar = process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: 'memcached [{bar}] {value}/{total} simulated ms', stream: process.stderr, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(ms, 0);
    let p;
    try {
      p = rig.measure(rate, ms / 1000, (s) => bar?.update(Math.round(s * 1e4) / 10));
    } finally {
      bar?.stop();
    }
    // Every client closes; the dataplane must then hold no mbuf for the application.
    for (const c of rig.connections) c.sock.close();
    rig.cluster.run(rig.cluster.events.now + 5e9);
    const threads = server!.threads;
    const held = server!.mbufsHeld;
    const r = p.perRequest;
    ctx.out.write(`memcached (kvserver-ix) on IX, ${cores === 1 ? 'one core' : `${cores} cores`}, B = ${batch}: ${workload.name}, ${rate} requests/s offered for ${ms} ms over ${connections} connections (depth ${depth}, ${records} keys)\n`);
    ctx.out.write(`throughput ${(p.achievedPerSecond / 1000).toFixed(1)} K requests/s (${p.completed} requests: ${p.hits} hits, ${p.misses} misses, ${p.errors} errors)\n`);
    ctx.out.write(`latency p50 ${p.p50Us.toFixed(1)} µs, p99 ${p.p99Us.toFixed(1)} µs, mean ${p.meanUs.toFixed(1)} µs\n`);
    ctx.out.write(`per batch: ${(r.rxPackets! / Math.max(1e-12, r.rxBatches!)).toFixed(2)} packets, ${(r.calls! / Math.max(1e-12, r.bpolls!)).toFixed(2)} calls (largest RX batch ${Math.max(...threads.map((t) => t.counters.maxRxBatch))}); per request: ${r.crossings!.toFixed(3)} ring crossings, ${r.vmExits!.toFixed(3)} VM exits, ${r.interrupts!.toFixed(3)} interrupts, ${r.mmioWrites!.toFixed(3)} MMIO writes; ${(100 * kernelShare(r)).toFixed(1)} % of the busy cycles in ring 0\n`);
    if (cores > 1) ctx.out.write(`packets received by core: ${threads.map((t, i) => `core ${i} ${t.counters.rxPackets} packets`).join(', ')}\n`);
    if (held !== 0) ctx.out.write(`${held} mbufs still held after every connection closed\n`);
    return {
      exitCode: held === 0 && p.errors === 0 ? 0 : 1,
      figures: {
        achievedKrps: p.achievedPerSecond / 1000, p50Us: p.p50Us, p99Us: p.p99Us, meanUs: p.meanUs, completed: p.completed,
        errors: p.errors, kernelShare: kernelShare(r), crossingsPerRequest: r.crossings!, vmExitsPerRequest: r.vmExits!, mbufsHeld: held,
      },
    };
  }
}
