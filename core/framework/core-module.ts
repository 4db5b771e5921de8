import { ContainerModule } from 'inversify';
import { BenchCommand } from '../bench/bench-command.js';
import { BenchSuite } from '../bench/bench-suite.js';
import { VtxBenchSuite } from '../vtx/bench/vtx-bench-suite.js';
import { DuneMicroSuite } from '../dune/bench/dune-micro-suite.js';
import { CliCommand } from './cli-command.js';
import { ListCommand } from './list-command.js';
import { RunCommand } from './run-command.js';
import { ExecCommand } from '../cli/exec-command.js';
import { ExecBenchSuite } from '../cli/exec-bench-suite.js';
import { ThreadsBenchSuite } from '../cli/threads-bench-suite.js';

/**
 * The core's bindings: its CLI commands (in the order `dunesim --help` lists them) and its own
 * bench suites. Each class is bound to itself and aliased into the contribution point.
 */
export const coreModule = new ContainerModule(({ bind }) => {
  bind(ListCommand).toSelf();
  bind(CliCommand).toService(ListCommand);
  bind(RunCommand).toSelf();
  bind(CliCommand).toService(RunCommand);
  bind(BenchCommand).toSelf();
  bind(CliCommand).toService(BenchCommand);
  bind(ExecCommand).toSelf();
  bind(CliCommand).toService(ExecCommand);
  bind(VtxBenchSuite).toSelf();
  bind(BenchSuite).toService(VtxBenchSuite);
  bind(DuneMicroSuite).toSelf();
  bind(BenchSuite).toService(DuneMicroSuite);
  bind(ExecBenchSuite).toSelf();
  bind(BenchSuite).toService(ExecBenchSuite);
  bind(ThreadsBenchSuite).toSelf();
  bind(BenchSuite).toService(ThreadsBenchSuite);
});
