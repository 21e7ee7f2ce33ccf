import { ArgumentError } from '../../../errors';
import { requireInt, requireLength } from './argument-checks';

/**
 * Splits a node's rows by a chosen split, keeping their order on both sides
 * (stable), so child histograms add rows in the same order on every run.
 * Value codes 1..bin and, when missingLeft, code 0 go left.
 *
 * `left` may be `rowIdx` itself (an in-place partition: a row is written left
 * only after it was read); `right` must be a separate array.
 *
 * @returns nLeft; the left rows are left[0..nLeft), the rest right[0..count − nLeft).
 * @throws ArgumentError for short arrays, a feature outside bins, or right === rowIdx.
 * @example const nl = partitionRows(bins, rows, idx, n, s.feature, s.bin, s.missingLeft, idx, scratch);
 */
export function partitionRows(
  bins: Uint8Array, rows: number, rowIdx: Uint32Array, count: number, feature: number, bin: number,
  missingLeft: boolean, left: Uint32Array, right: Uint32Array,
): number {
  requireInt('rows', rows, 0, 0x7fffffff);
  requireInt('count', count, 0, rowIdx.length);
  requireInt('feature', feature, 0, Math.max(0, Math.floor(bins.length / Math.max(rows, 1)) - 1));
  requireLength('left', left, count);
  requireLength('right', right, count);
  if (right === rowIdx) throw new ArgumentError(`'right' must not be 'rowIdx'; pass a scratch array`);
  return partitionLoop(bins, feature * rows, rows, rowIdx, count, bin, missingLeft, left, right);
}

function partitionLoop(
  bins: Uint8Array, base: number, rows: number, rowIdx: Uint32Array, count: number, bin: number,
  missingLeft: boolean, left: Uint32Array, right: Uint32Array,
): number {
  let nl = 0;
  let nr = 0;
  for (let j = 0; j < count; j++) {
    const r = rowIdx[j];
    if (r >= rows) throw new ArgumentError(`'rowIdx[${j}]' = ${r} is not below ${rows} rows`);
    const code = bins[base + r];
    if (code === 0 ? missingLeft : code <= bin) left[nl++] = r;
    else right[nr++] = r;
  }
  return nl;
}
