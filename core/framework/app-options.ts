import { UsageError } from './usage-error.js';

/**
 * Parses what follows the application name on a `dunesim run` line into `name → value` strings:
 * `--name value`, `--name=value`, and a bare `--name` (followed by another option or nothing)
 * as the flag value 'true'. Values stay strings: each application knows what its options mean.
 */
export function parseAppOptions(tokens: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!t.startsWith('--') || t.length === 2) {
      throw new UsageError(`unexpected '${t}' after the application name; options are --name value`);
    }
    const eq = t.indexOf('=');
    if (eq > 0) {
      out[t.slice(2, eq)] = t.slice(eq + 1);
    } else if (i + 1 < tokens.length && !tokens[i + 1]!.startsWith('--')) {
      out[t.slice(2)] = tokens[++i]!;
    } else {
      out[t.slice(2)] = 'true';
    }
  }
  return out;
}
