import { inject, injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { TlbSweep } from './tlb-sweep.js';

/** A whole-number option within bounds, or a UsageError (dunesim exits with status 2). */
function intOption(options: Record<string, string>, name: string, fallback: number, min: number, max: number): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  return v;
}

/**
 * `dunesim run tlb-reach/sweep [--pages N] [--large] [--stride B] [--passes P]`: one sweep, its
 * figures printed as a table by dunesim.
 */
@injectable()
export class SweepApplication implements Application {
  readonly plugin = 'tlb-reach';
  readonly id = 'sweep';
  readonly description = 'sweep a region at CPL 3 and count TLB misses, page walks and cycles';
  readonly options = {
    pages: 'region size in 4 KiB pages (default 4096 = 16 MiB)',
    large: 'map the region with 2 MiB pages instead of 4 KiB ones',
    stride: 'bytes between accesses (default 64)',
    passes: 'passes measured after a warm-up pass (default 4)',
  };

  constructor(@inject(TlbSweep) private readonly sweep: TlbSweep) {}

  run(ctx: RunContext): RunResult {
    const known = new Set(Object.keys(this.options));
    for (const k of Object.keys(ctx.options)) {
      if (!known.has(k)) throw new UsageError(`tlb-reach/sweep: unknown option --${k}; it takes ${[...known].map((n) => `--${n}`).join(', ')}`);
    }
    const large = ctx.options['large'] !== undefined && ctx.options['large'] !== 'false';
    const r = this.sweep.run({
      pages: intOption(ctx.options, 'pages', 4096, 1, 1 << 19),
      large,
      stride: intOption(ctx.options, 'stride', 64, 8, 1 << 21),
      passes: intOption(ctx.options, 'passes', 4, 1, 1000),
      profile: ctx.profile,
    });
    ctx.out.write(
      `tlb-reach: ${r.pages} pages (${(r.pages * 4096) / (1 << 20)} MiB) mapped with ${r.pageSize === 4096 ? '4 KiB' : '2 MiB'} pages, ` +
        `${r.accesses} accesses at CPL 3\n`,
    );
    return {
      exitCode: 0,
      figures: {
        accesses: r.accesses,
        cycles: r.cycles,
        instructions: r.instructions,
        tlbMisses: r.tlbMisses,
        walks: r.walks,
        walkRefs: r.walkRefs,
        walksPer1000Accesses: (1000 * r.walks) / r.accesses,
        cyclesPerAccess: r.cycles / r.accesses,
      },
    };
  }
}
