import { ContainerModule } from 'inversify';
import { BenchCommand } from '../bench/bench-command.js';
import { BenchSuite } from '../bench/bench-suite.js';
import { VtxBenchSuite } from '../vtx/bench/vtx-bench-suite.js';
import { CliCommand } from './cli-command.js';
import { ListCommand } from './list-command.js';

/** The core's bindings: its CLI commands and its own bench suites. */
export const coreModule = new ContainerModule(({ bind }) => {
  bind(BenchCommand).toSelf();
  bind(CliCommand).toService(BenchCommand);
  bind(ListCommand).toSelf();
  bind(CliCommand).toService(ListCommand);
  bind(VtxBenchSuite).toSelf();
  bind(BenchSuite).toService(VtxBenchSuite);
});
