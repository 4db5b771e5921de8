import { ContainerModule } from 'inversify';
import { BenchCommand } from '../cli/bench-command.js';
import { BenchSuite } from '../bench/bench-suite.js';
import { VtxBenchSuite } from '../vtx/bench/vtx-bench-suite.js';
import { DuneMicroSuite } from '../dune/bench/dune-micro-suite.js';
import { ThreadsBenchSuite } from '../linux/bench/threads-bench-suite.js';
import { NetLinuxBenchSuite } from '../cluster/bench/net-linux-bench-suite.js';
import { MemcachedLinuxBenchSuite } from '../cluster/bench/memcached-linux-bench-suite.js';
import { ExecBenchSuite } from '../system/bench/exec-bench-suite.js';
import { System } from '../system/system.js';
import { LinuxExecMode } from '../system/linux-exec-mode.js';
import { DuneExecMode } from '../system/dune-exec-mode.js';
import { CliCommand } from './cli-command.js';
import { ExecMode } from './exec-mode.js';
import { ListCommand } from '../cli/list-command.js';
import { RunCommand } from '../cli/run-command.js';
import { ExecCommand } from '../cli/exec-command.js';
import { ProfileCommand } from '../cli/profile-command.js';

/**
 * The core's bindings: the runtime (System) and its own exec modes (linux, dune: bound before any
 * plugin's, so they come first wherever modes are listed), its CLI commands (in the order
 * `dunesim --help` lists them) and its own bench suites. Each class is bound to itself and
 * aliased into the contribution point.
 */
export const coreModule = new ContainerModule(({ bind }) => {
  bind(System).toSelf();
  bind(LinuxExecMode).toSelf();
  bind(ExecMode).toService(LinuxExecMode);
  bind(DuneExecMode).toSelf();
  bind(ExecMode).toService(DuneExecMode);
  bind(ListCommand).toSelf();
  bind(CliCommand).toService(ListCommand);
  bind(RunCommand).toSelf();
  bind(CliCommand).toService(RunCommand);
  bind(BenchCommand).toSelf();
  bind(CliCommand).toService(BenchCommand);
  bind(ExecCommand).toSelf();
  bind(CliCommand).toService(ExecCommand);
  bind(ProfileCommand).toSelf();
  bind(CliCommand).toService(ProfileCommand);
  bind(VtxBenchSuite).toSelf();
  bind(BenchSuite).toService(VtxBenchSuite);
  bind(DuneMicroSuite).toSelf();
  bind(BenchSuite).toService(DuneMicroSuite);
  bind(ExecBenchSuite).toSelf();
  bind(BenchSuite).toService(ExecBenchSuite);
  bind(ThreadsBenchSuite).toSelf();
  bind(BenchSuite).toService(ThreadsBenchSuite);
  bind(NetLinuxBenchSuite).toSelf();
  bind(BenchSuite).toService(NetLinuxBenchSuite);
  bind(MemcachedLinuxBenchSuite).toSelf();
  bind(BenchSuite).toService(MemcachedLinuxBenchSuite);
});
