import { hostTensor64 } from '../../codec/host-tensor';
import { TfleetError } from '../../errors';
import { Table } from '../../data/table';
import { reduceLarge, reduceOnce, reduceSparse } from '../../ps/collectives';
import { PsHandle } from '../../ps/handle';
import { BinCuts, binColumns, cutsFromSketch, localRanges, localSketch, quantizationScale } from './kernels';

/** A rank's training rows as bin codes, with the cut points every rank shares. */
export interface BinnedShard {
  cuts: BinCuts;
  /** Column blocks: the code of row r, feature f is `bins[f * rows + r]`. */
  bins: Uint8Array;
  rows: number;
  cols: number;
}

/**
 * Bins a rank's shard with cut points that do not depend on the sharding:
 * feature ranges are max-reduced, then every rank counts its values on the
 * same fixed grid of cells, the counts are summed exactly (float64 integers),
 * and every rank derives the same cuts from the same sums.
 */
export async function binShard(ps: PsHandle, train: Table, maxBins: number, prefix: string): Promise<BinnedShard> {
  const { rows, cols } = train;
  const ranges = await reduceOnce(ps, `${prefix}/ranges`, hostTensor64([2 * cols], localRanges(train.x, rows, cols)), { name: 'max' });
  const counts = await reduceLarge(ps, `${prefix}/sketch`, localSketch(train.x, rows, cols, ranges), { name: 'sum' });
  const cuts = cutsFromSketch(counts, ranges, cols, maxBins);
  return { cuts, bins: binColumns(train.x, rows, cols, cuts), rows, cols };
}

/** Sums small float64 statistics (counts, quantized sums) exactly across ranks. */
export function sumExactly(ps: PsHandle, key: string, values: Float64Array): Promise<Float64Array> {
  return reduceOnce(ps, key, hostTensor64([values.length], values), { name: 'sum' });
}

/** The element-wise maximum across ranks. */
export function maxAcross(ps: PsHandle, key: string, values: Float64Array): Promise<Float64Array> {
  return reduceOnce(ps, key, hostTensor64([values.length], values), { name: 'max' });
}

/**
 * The largest power of two s such that the quantized values of `totalRows`
 * rows, each |round(v·s)| ≤ maxAbs·s + ½, sum to less than 2^31 in
 * magnitude: their histograms travel as int32 (half the bytes of float64)
 * and still sum exactly. 1 when maxAbs is 0.
 */
export function int32Scale(maxAbs: number, totalRows: number): number {
  if (!(maxAbs > 0)) return 1;
  const limit = (2 ** 31 - 1) / totalRows - 0.5;
  if (!(limit > 0)) throw new TfleetError('INVALID_DATA', `${totalRows} training rows are too many for int32 histogram sums (at most ${2 ** 30})`);
  let s = 2 ** Math.floor(Math.log2(limit / maxAbs));
  while (s > 0 && maxAbs * s > limit) s /= 2;
  return s;
}

/**
 * Sums integer-valued local histograms across ranks, exactly: as int32 when
 * `int32` says every sum fits (quantized gradients, class weights), else as
 * float64, cell by cell (`cellWidth` values each), sending only the cells
 * that hold a value; the sums come back times `scale` (dequantized), in
 * `out` when given. One rank has nothing to add to: its histograms are the sums.
 */
export async function sumHistograms(ps: PsHandle, worldSize: number, key: string, local: Float64Array, int32: boolean, cellWidth: number, scale = 1, out?: Float64Array): Promise<Float64Array> {
  if (worldSize === 1) {
    const sums = out ?? local;
    for (let i = 0; i < local.length; i++) sums[i] = local[i] * scale;
    return sums;
  }
  // Deep nodes' histograms are mostly empty cells: only the others travel.
  return reduceSparse(ps, key, local, cellWidth, { int32, scale, out });
}

/**
 * Float64 arrays reused from level to level and round to round, by slot:
 * filling fresh memory every level (hundreds of MB on Fashion-MNIST) cost
 * more than the arithmetic done in it.
 */
export class ScratchArrays {
  private readonly slots: Float64Array[] = [];

  /** A zeroed array of `length` in `slot`; valid until the slot is taken again. */
  take(slot: number, length: number): Float64Array {
    let buffer = this.slots[slot];
    if (!buffer || buffer.length < length) this.slots[slot] = buffer = new Float64Array(length);
    const view = buffer.subarray(0, length);
    view.fill(0);
    return view;
  }
}

/**
 * The mean over every rank of `values[r]` for the rows whose `mask[r]` is
 * `pick`, summed exactly: the values are quantized with a power-of-two scale
 * from their global maximum, so the mean does not depend on the sharding.
 * `count` is 0 when no rank has such a row (the mean is then 0).
 */
export async function meanExactly(
  ps: PsHandle, key: string, values: ArrayLike<number>, mask: Uint8Array, pick: 0 | 1, totalRows: number,
): Promise<{ mean: number; count: number }> {
  let count = 0;
  let top = 0;
  for (let r = 0; r < values.length; r++) {
    if (mask[r] !== pick) continue;
    count++;
    top = Math.max(top, Math.abs(values[r]));
  }
  const [globalTop] = await maxAcross(ps, `${key}/max`, Float64Array.of(top));
  const scale = quantizationScale(globalTop, totalRows);
  let sum = 0;
  for (let r = 0; r < values.length; r++) if (mask[r] === pick) sum += Math.round(values[r] * scale);
  const [n, s] = await sumExactly(ps, `${key}/sum`, Float64Array.of(count, sum));
  return { mean: n === 0 ? 0 : s / scale / n, count: n };
}
