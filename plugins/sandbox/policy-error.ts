import { ConfigError } from '../../core/config-error.js';

/**
 * A policy file the sandbox cannot use: unreadable, not JSON, or a field with a wrong value. The
 * message names the file and the field (`limits.memory`, `files[2].access` …); as a ConfigError,
 * the CLI prints it alone and exits with status 2.
 */
export class PolicyError extends ConfigError {
  constructor(
    readonly source: string,
    /** The field at fault, as a JSON path ('' for the whole document). */
    readonly field: string,
    problem: string,
  ) {
    super(`policy ${source}: ${field === '' ? '' : `${field}: `}${problem}`);
    this.name = 'PolicyError';
  }
}
