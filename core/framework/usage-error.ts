/** A wrong command line (unknown suite, plugin, flag value): message, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
