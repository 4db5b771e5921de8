import { ContainerModule } from 'inversify';
import { Application } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { DsmBenchSuite } from './dsm-bench-suite.js';
import { FalseshareApplication, JacobiApplication, MatmulApplication, MergesortApplication } from './dsm-run-application.js';

/**
 * The dsm plugin: page-based distributed shared memory across simulated Linux machines, the
 * coherence faults taken by SIGSEGV or by a ring-0 page-fault handler inside Dune.
 * `dunesim bench dsm` and `dunesim run dsm/<jacobi|matmul|mergesort|falseshare>`. The protocol
 * and the programs are C (lib/, programs/) run on the machine model.
 */
export default new ContainerModule(({ bind }) => {
  bind(DsmBenchSuite).toSelf();
  bind(BenchSuite).toService(DsmBenchSuite);
  bind(JacobiApplication).toSelf();
  bind(Application).toService(JacobiApplication);
  bind(MatmulApplication).toSelf();
  bind(Application).toService(MatmulApplication);
  bind(MergesortApplication).toSelf();
  bind(Application).toService(MergesortApplication);
  bind(FalseshareApplication).toSelf();
  bind(Application).toService(FalseshareApplication);
});
