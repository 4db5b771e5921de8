import { describe, expect, it } from 'vitest';
import { parseAppOptions } from '../../core/framework/app-options.js';
import { UsageError } from '../../core/framework/usage-error.js';

describe('parseAppOptions', () => {
  it('takes --name value, --name=value and bare flags as strings', () => {
    expect(parseAppOptions(['--pages', '64', '--large', '--stride=128', '--offset', '-8', '--last'])).toEqual({
      pages: '64', large: 'true', stride: '128', offset: '-8', last: 'true',
    });
    expect(parseAppOptions([])).toEqual({});
  });

  it('refuses a value without a name', () => {
    expect(() => parseAppOptions(['64'])).toThrow(UsageError);
    expect(() => parseAppOptions(['--pages', '1', '2'])).toThrow(/unexpected '2'/);
  });
});
