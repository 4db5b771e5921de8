import { ContainerModule } from 'inversify';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { Application } from '../../core/framework/application.js';
import { IxEchoApplication } from './ix-echo-application.js';
import { IxMemcachedApplication } from './ix-memcached-application.js';
import { IxBenchSuite } from './ix-bench-suite.js';
import { IxMemcachedBenchSuite } from './ix-memcached-bench-suite.js';

/**
 * The ix-dataplane plugin: IX's protected dataplane (OSDI'14) on Dune — an elastic thread in
 * guest ring 0 owning a queue pair of the 82599, libix for C applications in ring 3 (lib/), the
 * echo server (programs/), `dunesim bench ix` and `dunesim run ix-dataplane/echo`.
 */
export default new ContainerModule(({ bind }) => {
  bind(IxBenchSuite).toSelf();
  bind(BenchSuite).toService(IxBenchSuite);
  bind(IxMemcachedBenchSuite).toSelf();
  bind(BenchSuite).toService(IxMemcachedBenchSuite);
  bind(IxEchoApplication).toSelf();
  bind(Application).toService(IxEchoApplication);
  bind(IxMemcachedApplication).toSelf();
  bind(Application).toService(IxMemcachedApplication);
});
