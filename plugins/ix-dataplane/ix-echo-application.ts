import { injectable } from 'inversify';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { IX_BIN } from './ix-bench-suite.js';
import { runIxEcho } from './ix-experiments.js';

/** A whole number option within [min, max], or the default. */
export function wholeOption(options: Record<string, string>, name: string, dflt: number, min: number, max: number): number {
  const v = options[name];
  if (v === undefined) return dflt;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} ${v}: a whole number from ${min} to ${max}`);
  return Number(v);
}

/**
 * `dunesim run ix-dataplane/echo`: echo-ix on an IX dataplane of one or more cores, served by closed-loop
 * clients on a modelled host (IX Fig. 3's experiment at one point); prints the throughput, the
 * latency percentiles and the mechanism counts that explain them. A bar shows the round trips on a
 * terminal.
 */
@injectable()
export class IxEchoApplication implements Application {
  readonly plugin = 'ix-dataplane';
  readonly id = 'echo';
  readonly description = 'the echo server on an IX dataplane (one elastic thread per core) under closed-loop clients: throughput, latency percentiles, mechanism counts';
  readonly options = {
    connections: 'concurrent client connections, 1 to 1024 (default 16)',
    'round-trips': 'messages per connection, 1 to 100000 (default 128)',
    bytes: 'message size in bytes, 1 to 8192 (default 64)',
    batch: 'the batch bound B, 1 to 64 (default 64)',
    'per-connection': 'round trips before a connection is reset and another opened (default: kept open)',
    cores: 'server cores, one elastic thread and queue pair each, RSS spreading the flows, 1 to 8 (default 1)',
  };

  run(ctx: RunContext): RunResult {
    const o = ctx.options;
    const connections = wholeOption(o, 'connections', 16, 1, 1024);
    const roundTrips = wholeOption(o, 'round-trips', 128, 1, 100_000);
    const messageBytes = wholeOption(o, 'bytes', 64, 1, 8192);
    const batch = wholeOption(o, 'batch', 64, 1, 64);
    const perConnection = o['per-connection'] === undefined ? undefined : wholeOption(o, 'per-connection', 1, 1, 100_000);
    const cores = wholeOption(o, 'cores', 1, 1, 8);
    const bar = process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: 'echo [{bar}] {value}/{total} round trips', stream: process.stderr, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(connections * roundTrips, 0);
    let r;
    try {
      r = runIxEcho({
        profile: ctx.profile, echoIx: join(IX_BIN, 'echo-ix'), connections, roundTrips, messageBytes, batch, perConnection, cores,
        progress: (done) => bar?.update(done),
      });
    } finally {
      bar?.stop();
    }
    const m = r.perMessage;
    ctx.out.write(`echo on IX, ${cores === 1 ? 'one core' : `${cores} cores`}, B = ${batch}: ${connections} connections × ${roundTrips} messages of ${messageBytes} B${perConnection === undefined ? '' : `, a new connection every ${perConnection}`}\n`);
    ctx.out.write(`throughput ${(r.messagesPerSecond / 1e6).toFixed(3)} M msgs/s; latency p50 ${(r.p50Ns / 1000).toFixed(2)} µs, p99 ${(r.p99Ns / 1000).toFixed(2)} µs (round trip)\n`);
    ctx.out.write(`per batch: ${m.packetsPerBatch.toFixed(2)} packets, ${m.callsPerBatch.toFixed(2)} calls (largest RX batch ${m.maxRxBatch}); per message: ${m.crossingsPerMessage.toFixed(3)} ring crossings, ${m.vmExitsPerMessage.toFixed(3)} VM exits, ${m.interruptsPerMessage.toFixed(3)} interrupts, ${m.mmioWritesPerMessage.toFixed(3)} MMIO writes, ${m.llcMissesPerMessage.toFixed(2)} L3 misses; ring 0 ${(m.kernelShare * 100).toFixed(1)} % of the busy cycles\n`);
    if (r.mbufsHeld !== 0) ctx.out.write(`${r.mbufsHeld} mbufs still held after every connection closed\n`);
    return {
      exitCode: r.mbufsHeld === 0 ? 0 : 1,
      figures: {
        mMsgsPerSecond: r.messagesPerSecond / 1e6, p50Us: r.p50Ns / 1000, p99Us: r.p99Ns / 1000, completed: r.completed,
        packetsPerBatch: m.packetsPerBatch, callsPerBatch: m.callsPerBatch, crossingsPerMessage: m.crossingsPerMessage,
        vmExitsPerMessage: m.vmExitsPerMessage, interruptsPerMessage: m.interruptsPerMessage,
        llcMissesPerMessage: m.llcMissesPerMessage, kernelShare: m.kernelShare,
      },
    };
  }
}
