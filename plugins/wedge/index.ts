import { ContainerModule } from 'inversify';
import { Application } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { WedgeBenchSuite } from './wedge-bench-suite.js';
import { WedgeTestApplication } from './wedge-test-application.js';

/**
 * The wedge plugin: Wedge's sthreads (Dune §5.2) as a C library over libDune, fork and pthreads
 * (plugins/wedge/lib), `dunesim run wedge/test` and `dunesim bench wedge`.
 */
export default new ContainerModule(({ bind }) => {
  bind(WedgeTestApplication).toSelf();
  bind(Application).toService(WedgeTestApplication);
  bind(WedgeBenchSuite).toSelf();
  bind(BenchSuite).toService(WedgeBenchSuite);
});
