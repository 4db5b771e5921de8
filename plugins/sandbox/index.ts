import { ContainerModule } from 'inversify';
import { ExecMode } from '../../core/framework/exec-mode.js';
import { PolicyLoader } from './policy-loader.js';
import { SandboxExecMode } from './sandbox-exec-mode.js';

/**
 * The sandbox plugin: `dunesim exec --mode sandbox [--policy FILE]`. Each class is bound to
 * itself and aliased into the contribution point it serves.
 */
export default new ContainerModule(({ bind }) => {
  bind(PolicyLoader).toSelf();
  bind(SandboxExecMode).toSelf();
  bind(ExecMode).toService(SandboxExecMode);
});
