import type { Command } from 'commander';

/** Extension point: a `dunesim` sub-command. */
export const CliCommand = Symbol('CliCommand');

export interface CliCommand {
  /** Adds the command (with its options and action) to the program. */
  register(program: Command): void;
}
