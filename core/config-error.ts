/**
 * A configuration that makes no sense (bad memory size, unknown profile, bad flag …). The CLI
 * prints its message alone, without a stack trace, and exits with status 2.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
