import { describe, expect, it } from 'vitest';
import { binColumns, cutsFromSketch, localRanges, localSketch } from '../../../shared/families/trees/kernels/binning';
import { buildGradHist, layoutOf } from '../../../shared/families/trees/kernels/histogram';
import { bestGradSplit, bestImpuritySplit, gradLeafWeight, nodeStats } from '../../../shared/families/trees/kernels/split';
import { seededRandom } from '../../../shared/random';
import { allRows, cutsWithBins } from './fixtures';

const noReg = { lambda: 0, gamma: 0, minChildWeight: 0 };

describe('bestGradSplit', () => {
  // One feature with 2 value bins: cells [missing, bin 1, bin 2] of (g, h).
  const twoBins = layoutOf(cutsWithBins([2]), Uint32Array.from([0]));
  const twoBinHist = Float64Array.from([0, 0, -4, 2, 6, 3]);

  it('computes the XGBoost gain of a 2-bin example by hand', () => {
    const s = bestGradSplit(twoBinHist, 0, twoBins, { lambda: 1, gamma: 0, minChildWeight: 0 });
    // ½·(16/3 + 36/4 − 4/6) = 41/6.
    expect(s).not.toBeNull();
    expect(s!.gain).toBeCloseTo(41 / 6, 12);
    expect(s).toMatchObject({ feature: 0, bin: 1, missingLeft: false, leftG: -4, leftH: 2, rightG: 6, rightH: 3 });
  });

  it('reads a histogram at an offset', () => {
    const shifted = new Float64Array(9);
    shifted.set(twoBinHist, 3);
    expect(bestGradSplit(shifted, 3, twoBins, { lambda: 1, gamma: 0, minChildWeight: 0 })!.gain).toBeCloseTo(41 / 6, 12);
  });

  it('lets minChildWeight and gamma block splits', () => {
    expect(bestGradSplit(twoBinHist, 0, twoBins, { lambda: 1, gamma: 0, minChildWeight: 2.5 })).toBeNull();
    expect(bestGradSplit(twoBinHist, 0, twoBins, { lambda: 1, gamma: 7, minChildWeight: 0 })).toBeNull();
    expect(bestGradSplit(twoBinHist, 0, twoBins, { lambda: 1, gamma: 6, minChildWeight: 2 })!.gain).toBeCloseTo(41 / 6 - 6, 12);
  });

  it('finds a planted split and learns to send missing values left', () => {
    const rows = 2000;
    const cols = 3;
    const rand = seededRandom(7);
    const x = new Float32Array(rows * cols);
    const g = new Float64Array(rows);
    const h = new Float64Array(rows).fill(1);
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < cols; f++) x[r * cols + f] = Math.floor(rand() * 100) / 100;
      const missing = rand() < 0.2;
      // Feature 1 (values k/100) separates the labels at 0.6; its missing rows carry the left side's gradient.
      const leftSide = missing || x[r * cols + 1] < 0.6;
      if (missing) x[r * cols + 1] = NaN;
      g[r] = leftSide ? -1 : 1;
    }
    const ranges = localRanges(x, rows, cols);
    const cuts = cutsFromSketch(localSketch(x, rows, cols, ranges), ranges, cols, 256);
    const bins = binColumns(x, rows, cols, cuts);
    const layout = layoutOf(cuts, Uint32Array.from([0, 1, 2]));
    const hist = new Float64Array(2 * layout.cells);
    buildGradHist(bins, rows, allRows(rows), rows, layout, g, h, hist, 0);
    const s = bestGradSplit(hist, 0, layout, { lambda: 1, gamma: 0, minChildWeight: 1 })!;
    expect(s.feature).toBe(1);
    expect(s.missingLeft).toBe(true);
    const t = cuts.thresholds[1][s.bin - 1];
    expect(t > 0.59 && t <= Math.fround(0.6)).toBe(true);
    expect(s.leftG).toBe(-s.leftH);
    expect(s.rightG).toBe(s.rightH);
  });

  it('breaks ties toward the lower feature, the lower bin, then missing right', () => {
    // Feature 0 and 1 identical; bin 2 is empty so boundaries 1 and 2 tie;
    // the missing cell makes both missing sides give 0.5·(1/1 + 1/3).
    const layout = layoutOf(cutsWithBins([3, 3]), Uint32Array.from([0, 1]));
    const oneFeature = [0, 2, -1, 1, 0, 0, 1, 1];
    const hist = Float64Array.from([...oneFeature, ...oneFeature]);
    const s = bestGradSplit(hist, 0, layout, noReg)!;
    expect(s.gain).toBeCloseTo(2 / 3, 12);
    expect(s).toMatchObject({ feature: 0, bin: 1, missingLeft: false });
  });

  it('does not try missing-left when the missing cell is empty', () => {
    const layout = layoutOf(cutsWithBins([2]), Uint32Array.from([0]));
    expect(bestGradSplit(Float64Array.from([0, 0, -1, 1, 1, 1]), 0, layout, noReg)!.missingLeft).toBe(false);
  });

  it('returns null when no split has positive gain', () => {
    const layout = layoutOf(cutsWithBins([2]), Uint32Array.from([0]));
    expect(bestGradSplit(Float64Array.from([0, 0, 1, 1, 1, 1]), 0, layout, { lambda: 1, gamma: 0, minChildWeight: 0 })).toBeNull();
  });

  it('computes the leaf weight −G/(H + λ)', () => {
    expect(gradLeafWeight(3, 2, 1)).toBe(-1);
    expect(gradLeafWeight(0, 0, 0)).toBe(0);
  });
});

describe('bestImpuritySplit', () => {
  const layout = layoutOf(cutsWithBins([2]), Uint32Array.from([0]));
  // Two classes; cells [missing, bin 1, bin 2] of class weights.
  const classHist = Float64Array.from([0, 0, 3, 1, 1, 3]);

  it('computes the gini decrease by hand', () => {
    // 8·0.5 − 4·0.375 − 4·0.375 = 1.
    const s = bestImpuritySplit(classHist, 0, layout, 'gini', 2, 0)!;
    expect(s.gain).toBeCloseTo(1, 12);
    expect(s).toMatchObject({ feature: 0, bin: 1, missingLeft: false });
    expect(Array.from(s.left)).toEqual([3, 1]);
    expect(Array.from(s.right)).toEqual([1, 3]);
  });

  it('computes the entropy decrease by hand (natural log)', () => {
    const child = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    const s = bestImpuritySplit(classHist, 0, layout, 'entropy', 2, 0)!;
    expect(s.gain).toBeCloseTo(8 * Math.log(2) - 8 * child, 12);
  });

  it('computes the variance decrease by hand and learns missing-left', () => {
    // Cells [w, Σwy, Σwy²]: missing y = 4; bin 1 y = 1, 2; bin 2 y = 10 with weight 2.
    const hist = Float64Array.from([1, 4, 16, 2, 3, 5, 2, 20, 200]);
    const s = bestImpuritySplit(hist, 0, layout, 'variance', 3, 0)!;
    // Node 221 − 27²/5 = 75.2; left {1, 2, 4}: 21 − 49/3; right {10, 10}: 0.
    expect(s.gain).toBeCloseTo(75.2 - (21 - 49 / 3), 10);
    expect(s.missingLeft).toBe(true);
    expect(Array.from(s.left)).toEqual([3, 7, 21]);
    expect(Array.from(s.right)).toEqual([2, 20, 200]);
  });

  it('does not split a pure node or a split that leaves the distribution unchanged', () => {
    expect(bestImpuritySplit(Float64Array.from([0, 0, 0.3, 0, 0.7, 0]), 0, layout, 'gini', 2, 0)).toBeNull();
    expect(bestImpuritySplit(Float64Array.from([0, 0, 1, 3, 2, 6]), 0, layout, 'entropy', 2, 0)).toBeNull();
    expect(bestImpuritySplit(Float64Array.from([0, 0, 0, 3, 0.3, 0.03, 7, 0.7, 0.07]), 0, layout, 'variance', 3, 0)).toBeNull();
  });

  it('lets minLeafWeight block splits', () => {
    expect(bestImpuritySplit(classHist, 0, layout, 'gini', 2, 4)).not.toBeNull();
    expect(bestImpuritySplit(classHist, 0, layout, 'gini', 2, 4.5)).toBeNull();
  });

  it('breaks ties toward the lower feature', () => {
    const two = layoutOf(cutsWithBins([2, 2]), Uint32Array.from([0, 1]));
    const s = bestImpuritySplit(Float64Array.from([...classHist, ...classHist]), 0, two, 'gini', 2, 0)!;
    expect(s.feature).toBe(0);
  });

  it('sums a node from the first listed feature', () => {
    expect(Array.from(nodeStats(classHist, 0, layout, 2))).toEqual([4, 4]);
  });

  it('rejects variance with a numStats other than 3', () => {
    expect(() => bestImpuritySplit(classHist, 0, layout, 'variance', 2, 0)).toThrow(/'numStats'/);
  });
});
