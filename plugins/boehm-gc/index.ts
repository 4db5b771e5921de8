import { ContainerModule } from 'inversify';
import { Application } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { GcBenchSuite } from './gc-bench-suite.js';
import { GcBenchApplication, HashMapApplication, LinkedListApplication, Xml10Application, XmlApplication } from './gc-run-application.js';

/**
 * The boehm-gc plugin (Dune §5.3, Table 6): `dunesim bench boehm-gc` and
 * `dunesim run boehm-gc/<gcbench|linkedlist|hashmap|xml|xml10> [--variant V]`. The collector and
 * the workloads are C programs (lib/, programs/) run on the machine model.
 */
export default new ContainerModule(({ bind }) => {
  bind(GcBenchSuite).toSelf();
  bind(BenchSuite).toService(GcBenchSuite);
  bind(GcBenchApplication).toSelf();
  bind(Application).toService(GcBenchApplication);
  bind(LinkedListApplication).toSelf();
  bind(Application).toService(LinkedListApplication);
  bind(HashMapApplication).toSelf();
  bind(Application).toService(HashMapApplication);
  bind(XmlApplication).toSelf();
  bind(Application).toService(XmlApplication);
  bind(Xml10Application).toSelf();
  bind(Application).toService(Xml10Application);
});
