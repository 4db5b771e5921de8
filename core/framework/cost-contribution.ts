/**
 * Extension point: cost constants of a plugin's own — the cycles or instructions its modelled code
 * paths cost (a sandbox's argument checks, a dataplane's batch loop) — declared the way the core's
 * profile constants are (core/vtx/profiles): each with a value, a unit and the source it comes
 * from. `dunesim profile` lists them beside the core's. A name must be new: one the core's
 * profiles have, or another plugin's, refuses the plugin at startup (it fails to load, named, and
 * the other plugins still load).
 */
export const CostContribution = Symbol('CostContribution');

export interface PluginCostConstant {
  readonly value: number;
  /** 'cycles', or 'instructions' (charged at the profile's `instruction` cost each). */
  readonly unit: string;
  /** What the constant is the cost of. */
  readonly description: string;
  /** Where the value comes from: a count of named code, a measurement, a paper's figure. */
  readonly source: string;
}

export interface CostContribution {
  /** The contributing plugin's id (its folder under plugins/). */
  readonly plugin: string;
  /** By name: camelCase like the core's, and unique among the core's and every plugin's. */
  readonly constants: Readonly<Record<string, PluginCostConstant>>;
}
