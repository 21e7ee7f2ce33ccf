import { describe, expect, it } from 'vitest';
import { partitionRows } from '../../../shared/families/trees/kernels/partition';

describe('partitionRows', () => {
  // Two features, 6 rows; feature 1 codes: 2, 0, 1, 3, 2, 0.
  const rows = 6;
  const bins = Uint8Array.from([1, 1, 1, 1, 1, 1, 2, 0, 1, 3, 2, 0]);
  const rowIdx = Uint32Array.from([5, 0, 1, 3, 4, 2]);

  it('keeps the order of the rows on both sides', () => {
    const left = new Uint32Array(6);
    const right = new Uint32Array(6);
    const nl = partitionRows(bins, rows, rowIdx, 6, 1, 2, false, left, right);
    expect(Array.from(left.subarray(0, nl))).toEqual([0, 4, 2]);
    expect(Array.from(right.subarray(0, 6 - nl))).toEqual([5, 1, 3]);
  });

  it('sends missing rows left when missingLeft, and works in place', () => {
    const idx = rowIdx.slice();
    const right = new Uint32Array(6);
    const nl = partitionRows(bins, rows, idx, 5, 1, 1, true, idx, right);
    expect(Array.from(idx.subarray(0, nl))).toEqual([5, 1]);
    expect(Array.from(right.subarray(0, 5 - nl))).toEqual([0, 3, 4]);
  });

  it('rejects right aliasing rowIdx', () => {
    expect(() => partitionRows(bins, rows, rowIdx, 6, 1, 1, true, new Uint32Array(6), rowIdx)).toThrow(/'right'/);
  });
});
