import { ConfigError } from '../config-error.js';
import { COST_CONSTANTS } from '../vtx/cost-model.js';
import type { CostContribution } from './cost-contribution.js';

/**
 * Refuses plugin cost constants that are malformed or whose name is taken: by a constant of the
 * core's profiles, or by another contribution. A ConfigError names the constant, the plugin and
 * the owner of the name.
 */
export function checkCostContributions(contributions: readonly CostContribution[]): void {
  const owner = new Map<string, string>();
  for (const c of contributions) {
    for (const [name, k] of Object.entries(c.constants)) {
      const where = `cost constant '${name}' (plugin '${c.plugin}')`;
      if (!/^[a-z][A-Za-z0-9]*$/.test(name)) throw new ConfigError(`${where}: a name is camelCase letters and digits`);
      if (name in COST_CONSTANTS) {
        throw new ConfigError(`${where} has the name of a constant of the core's profiles (${COST_CONSTANTS[name as keyof typeof COST_CONSTANTS]}); give it a name of its own`);
      }
      const other = owner.get(name);
      if (other !== undefined) throw new ConfigError(`${where} is also declared by plugin '${other}'; give it a name of its own`);
      if (typeof k.value !== 'number' || !Number.isFinite(k.value) || k.value < 0) throw new ConfigError(`${where} needs a non-negative number 'value'`);
      for (const f of ['unit', 'description', 'source'] as const) {
        if (typeof k[f] !== 'string' || k[f].trim() === '') throw new ConfigError(`${where} needs a '${f}'`);
      }
      owner.set(name, c.plugin);
    }
  }
}
