/**
 * Extension point: an application a plugin contributes (`dunesim run <plugin>/<app>`).
 * Theia-style: a Symbol and an interface of the same name; plugins bind to it in their module.
 */
export const Application = Symbol('Application');

export interface Application {
  /** The contributing plugin's id (its folder under plugins/, or examples/<name>). */
  readonly plugin: string;
  /** The application's id within the plugin. */
  readonly id: string;
  readonly description: string;
  /** Options it accepts, for `dunesim run --help` (name → description). */
  readonly options?: Record<string, string>;
  run(ctx: RunContext): Promise<RunResult> | RunResult;
}

export interface RunContext {
  /** Options given after the application name (`--name value` pairs, parsed as strings). */
  readonly options: Record<string, string>;
  /** Cost profile to build machines with. */
  readonly profile: string;
  /** Where the application writes what it wants a person to read. */
  readonly out: NodeJS.WritableStream;
}

export interface RunResult {
  /** Process exit status dunesim reports. */
  exitCode: number;
  /** Named figures worth a table (cycles, exits, faults …). */
  figures?: Record<string, number>;
}
