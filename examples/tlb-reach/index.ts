import { ContainerModule } from 'inversify';
import { Application } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { SweepApplication } from './sweep-application.js';
import { TlbReachBenchSuite } from './tlb-reach-bench-suite.js';
import { TlbSweep } from './tlb-sweep.js';

/**
 * The tlb-reach plugin: what dunesim loads from plugins/manifest.json. Each class is bound once
 * to itself, then aliased (toService) into the contribution point it serves, so the container
 * makes one instance whichever way it is asked for.
 */
export default new ContainerModule(({ bind }) => {
  bind(TlbSweep).toSelf();
  bind(SweepApplication).toSelf();
  bind(Application).toService(SweepApplication);
  bind(TlbReachBenchSuite).toSelf();
  bind(BenchSuite).toService(TlbReachBenchSuite);
});
