import { inject, injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { loadProfile } from '../../core/vtx/cost-model.js';
import { System } from '../../core/system/index.js';
import { GC_VARIANTS, GcVariant, GcWorkload, runGcProgram } from './gc-program.js';
import { BENCH_SCALES } from './gc-bench-suite.js';

/**
 * `dunesim run boehm-gc/<workload> [--variant V] [--scale N] [--verify]`: one workload of
 * Table 6 under one dirty-page layer; prints its result, its time at the profile's clock and the
 * collector's statistics.
 */
@injectable()
export abstract class GcRunApplication implements Application {
  readonly plugin = 'boehm-gc';
  abstract readonly id: GcWorkload;
  readonly options = {
    variant: `the collector's dirty-page layer: ${GC_VARIANTS.join(', ')} (default normal)`,
    scale: 'the workload\'s scale (see docs/boehm-gc.md; default the bench\'s)',
    verify: 'yes: check after every collection\'s mark that nothing reachable is about to be freed',
  };

  constructor(protected readonly system: System) {}

  get description(): string {
    return `Dune Table 6 workload ${this.id} under one of the collector's dirty-page layers (figures and GC statistics)`;
  }

  run(ctx: RunContext): RunResult {
    const { variant = 'normal', scale, verify } = ctx.options;
    if (!(GC_VARIANTS as readonly string[]).includes(variant)) throw new UsageError(`--variant ${variant}: one of ${GC_VARIANTS.join(', ')}`);
    let n = BENCH_SCALES[this.id];
    if (scale !== undefined) {
      if (!/^[0-9]+$/.test(scale)) throw new UsageError(`--scale ${scale}: a whole number`);
      n = Number(scale);
    }
    if (verify !== undefined && verify !== 'yes' && verify !== 'no') throw new UsageError(`--verify ${verify}: yes or no`);
    const r = runGcProgram(this.system.exec.bind(this.system), ctx.profile, this.id, variant as GcVariant, { scale: n, verify: verify === 'yes' });
    const ms = (r.cycles / loadProfile(ctx.profile).clockHz) * 1e3;
    ctx.out.write(`${this.id} under ${variant}: result ${r.checksum}, ${ms.toFixed(3)} ms (${r.cycles} cycles)\n`);
    return {
      exitCode: r.gc.verify_failures > 0 ? 1 : 0,
      figures: { ms: Math.round(ms * 1000) / 1000, cycles: r.cycles, ...r.gc, instructions: r.stats.instructions as number },
    };
  }
}

/** `dunesim run boehm-gc/gcbench`. */
@injectable()
export class GcBenchApplication extends GcRunApplication {
  readonly id = 'gcbench';

  constructor(@inject(System) system: System) {
    super(system);
  }
}

/** `dunesim run boehm-gc/linkedlist`. */
@injectable()
export class LinkedListApplication extends GcRunApplication {
  readonly id = 'linkedlist';

  constructor(@inject(System) system: System) {
    super(system);
  }
}

/** `dunesim run boehm-gc/hashmap`. */
@injectable()
export class HashMapApplication extends GcRunApplication {
  readonly id = 'hashmap';

  constructor(@inject(System) system: System) {
    super(system);
  }
}

/** `dunesim run boehm-gc/xml`. */
@injectable()
export class XmlApplication extends GcRunApplication {
  readonly id = 'xml';

  constructor(@inject(System) system: System) {
    super(system);
  }
}

/** `dunesim run boehm-gc/xml10`: ten documents. */
@injectable()
export class Xml10Application extends GcRunApplication {
  readonly id = 'xml10';

  constructor(@inject(System) system: System) {
    super(system);
  }
}
