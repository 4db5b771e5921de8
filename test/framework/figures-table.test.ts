import { describe, expect, it } from 'vitest';
import { renderFiguresTable } from '../../core/framework/figures-table.js';

describe('renderFiguresTable', () => {
  it('prints counts exactly and ratios with four significant digits', () => {
    const t = renderFiguresTable({ walks: 16416, cyclesPerAccess: 4.56371, cycles: 123456.7, tiny: 0.0001234 });
    expect(t).toMatch(/walks\s+│\s+16416 │/);
    expect(t).toMatch(/cyclesPerAccess\s+│\s+4\.564 │/);
    expect(t).toMatch(/cycles\s+│\s+123456\.7 │/);
    expect(t).toMatch(/tiny\s+│\s+1\.234e-4 │/);
  });
});
