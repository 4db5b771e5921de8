import { describe, expect, it } from 'vitest';
import { reg, runKernel, runUser } from './harness.js';

describe('interpreter basics', () => {
  it('runs mov/add in ring 0', () => {
    const env = runKernel('b80500000083c007');
    expect(reg(env.cpu, 'rax')).toBe(12n);
    expect(env.traps).toEqual([]);
  });
  it('runs mov/add in ring 3', () => {
    const env = runUser('b80500000083c007');
    expect(reg(env.cpu, 'rax')).toBe(12n);
  });
});
