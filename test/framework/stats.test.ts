import { describe, expect, it } from 'vitest';
import { Stats } from '../../core/stats.js';

describe('Stats.sum', () => {
  it('adds every counter whose name ends with the suffix at a dot, or equals it', () => {
    const s = new Stats();
    s.v[s.counter('cpu0.tlb.hits', 'count', 'hits')] = 3;
    s.v[s.counter('cpu1.tlb.hits', 'count', 'hits')] = 4;
    s.v[s.counter('cpu1.xtlb.hits', 'count', 'not a tlb counter')] = 100;
    expect(s.sum('tlb.hits')).toBe(7);
    expect(s.sum('dune.eptLargeLeaves')).toBe(0); // never registered: 0
  });

  it('refuses a suffix with its own leading dot, which could never match', () => {
    expect(() => new Stats().sum('.vmx.exits')).toThrow(/without its leading dot/);
  });
});
