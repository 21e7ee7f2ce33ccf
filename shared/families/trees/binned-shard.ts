import { hostTensor64 } from '../../codec/host-tensor';
import { Table } from '../../data/table';
import { reduceLarge, reduceOnce } from '../../ps/collectives';
import { PsHandle } from '../../ps/handle';
import { BinCuts, binColumns, cutsFromSketch, localRanges, localSketch } from './kernels';

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
