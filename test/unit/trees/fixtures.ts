import { BinCuts } from '../../../shared/families/trees/kernels/binning';
import { seededRandom } from '../../../shared/random';

/** Cuts with the given number of value bins per feature (thresholds 1, 2, ...). */
export function cutsWithBins(valueBins: number[]): BinCuts {
  return {
    cols: valueBins.length,
    maxBins: 256,
    thresholds: valueBins.map((k) => Float64Array.from({ length: k - 1 }, (_, i) => i + 1)),
  };
}

/** Random column-block bins for the cuts, with about `missing` of them code 0. */
export function randomBins(cuts: BinCuts, rows: number, seed: number, missing = 0.1): Uint8Array {
  const rand = seededRandom(seed);
  const bins = new Uint8Array(cuts.cols * rows);
  for (let f = 0; f < cuts.cols; f++) {
    const k = cuts.thresholds[f].length + 1;
    for (let r = 0; r < rows; r++) bins[f * rows + r] = rand() < missing ? 0 : 1 + Math.floor(rand() * k);
  }
  return bins;
}

/** 0..n−1 as row ids. */
export function allRows(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}
