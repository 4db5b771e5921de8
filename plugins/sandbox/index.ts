import { ContainerModule } from 'inversify';
import { Application } from '../../core/framework/application.js';
import { BenchSuite } from '../../core/bench/bench-suite.js';
import { ExecMode } from '../../core/framework/exec-mode.js';
import { CostContribution } from '../../core/framework/cost-contribution.js';
import { CompareApplication } from './compare-application.js';
import { HttpdApplication } from './httpd-application.js';
import { PolicyLoader } from './policy-loader.js';
import { PtraceExecMode } from './ptrace-exec-mode.js';
import { SandboxBenchSuite } from './sandbox-bench-suite.js';
import { SandboxExecMode } from './sandbox-exec-mode.js';
import { SandboxCostConstants } from './sandbox-cost-constants.js';

/**
 * The sandbox plugin: `dunesim exec --mode sandbox|ptrace [--policy FILE]`, `dunesim run sandbox/compare`,
 * `dunesim run sandbox/httpd`, `dunesim bench sandbox`, and its cost constants (`dunesim profile`). Each class is bound to itself and aliased into the contribution
 * point it serves.
 */
export default new ContainerModule(({ bind }) => {
  bind(PolicyLoader).toSelf();
  bind(SandboxExecMode).toSelf();
  bind(ExecMode).toService(SandboxExecMode);
  bind(PtraceExecMode).toSelf();
  bind(ExecMode).toService(PtraceExecMode);
  bind(CompareApplication).toSelf();
  bind(Application).toService(CompareApplication);
  bind(HttpdApplication).toSelf();
  bind(Application).toService(HttpdApplication);
  bind(SandboxBenchSuite).toSelf();
  bind(BenchSuite).toService(SandboxBenchSuite);
  bind(SandboxCostConstants).toSelf();
  bind(CostContribution).toService(SandboxCostConstants);
});
