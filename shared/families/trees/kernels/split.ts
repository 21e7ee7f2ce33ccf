import { ArgumentError } from '../../../errors';
import { HistLayout } from './histogram';
import { requireInt, requireLength } from './argument-checks';

/**
 * Split finders over one node's histogram. They are pure: the same histogram
 * gives the same split on every worker. Candidates are visited in the order
 * (listed feature ascending, bin ascending, missing-right before missing-left)
 * and a candidate replaces the best only on a strictly greater gain, so ties go
 * to the first.
 *
 * @example
 * const s = bestGradSplit(hist, 0, layout, { lambda: 1, gamma: 0, minChildWeight: 1 });
 * if (s) setSplit(tree, node, s.feature, s.bin, cuts.thresholds[s.feature][s.bin - 1], s.missingLeft, s.gain, l, r);
 */

/**
 * Regularization of the gradient-boosting split. All three are in the units of
 * the histogram: when the driver quantizes g and h with one scale s (use the
 * same s for both), pass λ·s, γ·s and minChildWeight·s; gains then come out
 * scaled by s and leaf weights unchanged.
 */
export interface GradSplitParams {
  /** L2 penalty on leaf weights (XGBoost `lambda`), ≥ 0. */
  lambda: number;
  /** Minimum loss reduction to split (XGBoost `gamma`), ≥ 0. */
  gamma: number;
  /** Minimum hessian sum in each child (XGBoost `min_child_weight`), ≥ 0. */
  minChildWeight: number;
}

/** A split of a node: value bins 1..bin go left, bin+1..k right; missing (code 0) goes left iff missingLeft. */
export interface GradSplit {
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** Loss reduction (after γ), > 0. */
  gain: number;
  leftG: number;
  leftH: number;
  rightG: number;
  rightH: number;
}

function checkHist(hist: Float64Array, offset: number, layout: HistLayout, stride: number): void {
  requireInt('offset', offset, 0, Number.MAX_SAFE_INTEGER);
  requireLength('hist', hist, offset + layout.cells * stride);
}

/**
 * The best XGBoost split of a node whose (g, h) histogram starts at `offset`:
 * gain = ½·(GL²/(HL+λ) + GR²/(HR+λ) − G²/(H+λ)) − γ, over the boundaries of
 * every listed feature, with missing values right and then (when the missing
 * cell is not empty) left. The node totals G, H are the sums of the first listed
 * feature's cells.
 *
 * @returns the best split with HL ≥ minChildWeight, HR ≥ minChildWeight and
 *   gain > 0, or null when there is none (or no feature is listed).
 * @throws ArgumentError when the histogram is shorter than the layout or a parameter is negative.
 */
export function bestGradSplit(hist: Float64Array, offset: number, layout: HistLayout, params: GradSplitParams): GradSplit | null {
  checkHist(hist, offset, layout, 2);
  const { lambda, gamma, minChildWeight } = params;
  if (!(lambda >= 0) || !(gamma >= 0) || !(minChildWeight >= 0)) {
    throw new ArgumentError(`split params must be ≥ 0, got lambda ${lambda}, gamma ${gamma}, minChildWeight ${minChildWeight}`);
  }
  const n = layout.features.length;
  if (n === 0) return null;
  let G = 0;
  let H = 0;
  for (let c = layout.offsets[0]; c < layout.offsets[1]; c++) {
    G += hist[offset + 2 * c];
    H += hist[offset + 2 * c + 1];
  }
  const parentScore = (G * G) / (H + lambda);
  // best[0] = gain, [1] = listed-feature index, [2] = bin, [3] = missingLeft, [4..7] = GL, HL, GR, HR.
  const best = new Float64Array(8);
  best[0] = 0;
  best[1] = -1;
  for (let i = 0; i < n; i++) {
    gradFeatureScan(hist, offset + 2 * layout.offsets[i], layout.offsets[i + 1] - layout.offsets[i], i, G, H, parentScore, lambda, gamma, minChildWeight, best);
  }
  if (best[1] < 0) return null;
  return {
    feature: layout.features[best[1]], bin: best[2], missingLeft: best[3] === 1, gain: best[0],
    leftG: best[4], leftH: best[5], rightG: best[6], rightH: best[7],
  };
}

/** Scans one feature's boundaries; updates `best` on a strictly greater gain. */
function gradFeatureScan(
  hist: Float64Array, o: number, cells: number, index: number, G: number, H: number, parentScore: number,
  lambda: number, gamma: number, minChildWeight: number, best: Float64Array,
): void {
  const gm = hist[o];
  const hm = hist[o + 1];
  const missingSeen = hm > 0 || gm !== 0;
  let gl = 0;
  let hl = 0;
  // Boundary b puts value bins 1..b left; b = cells − 1 = k would leave no value bin right.
  for (let b = 1; b < cells - 1; b++) {
    gl += hist[o + 2 * b];
    hl += hist[o + 2 * b + 1];
    for (let side = 0; side < (missingSeen ? 2 : 1); side++) {
      const GL = side === 0 ? gl : gl + gm;
      const HL = side === 0 ? hl : hl + hm;
      const GR = G - GL;
      const HR = H - HL;
      if (!(HL >= minChildWeight && HR >= minChildWeight)) continue;
      const gain = 0.5 * ((GL * GL) / (HL + lambda) + (GR * GR) / (HR + lambda) - parentScore) - gamma;
      if (gain > best[0]) {
        best[0] = gain;
        best[1] = index;
        best[2] = b;
        best[3] = side;
        best[4] = GL;
        best[5] = HL;
        best[6] = GR;
        best[7] = HR;
      }
    }
  }
}

/**
 * The optimal leaf weight −G/(H + λ) (a margin step; scale-free when G, H and λ
 * share the quantization scale). 0 when H + λ is 0.
 */
export function gradLeafWeight(G: number, H: number, lambda: number): number {
  const d = H + lambda;
  return d > 0 ? -G / d : 0;
}

/** Impurity used by random-forest splits. */
export type ImpurityCriterion = 'gini' | 'entropy' | 'variance';

/** A forest split; left/right are the children's summed statistics (class weights, or [w, Σw·y, Σw·y²]). */
export interface ImpuritySplit {
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** Weighted impurity decrease W·I(node) − WL·I(L) − WR·I(R), > 1e-12. */
  gain: number;
  left: Float64Array;
  right: Float64Array;
}

/** Smallest impurity decrease that counts as a split. */
const MIN_IMPURITY_GAIN = 1e-12;

/**
 * The best impurity split of a node whose statistics histogram starts at `offset`.
 * Classification ('gini', 'entropy' with natural log): the numStats statistics of
 * a cell are class weights. Regression ('variance'): numStats must be 3 and the
 * statistics are [w, Σw·y, Σw·y²].
 *
 * The gain is computed in forms equal to W·I(node) − WL·I(L) − WR·I(R) that are
 * exactly 0 when the children have the node's distribution (so pure or
 * uninformative nodes never split on rounding noise):
 * gini WL·WR/W·Σ_k (pL_k − pR_k)², entropy Σ_side W_side·KL(p_side ‖ p),
 * variance WL·WR/W·(ȳL − ȳR)².
 *
 * @param minLeafWeight minimum weight of each child, ≥ 0.
 * @returns the best split with gain > 1e-12 and both children's weight ≥ minLeafWeight, or null.
 * @throws ArgumentError for a short histogram, an unknown criterion, or 'variance' with numStats ≠ 3.
 */
export function bestImpuritySplit(
  hist: Float64Array, offset: number, layout: HistLayout, criterion: ImpurityCriterion,
  numStats: number, minLeafWeight: number,
): ImpuritySplit | null {
  requireInt('numStats', numStats, 1, 0xffff);
  checkHist(hist, offset, layout, numStats);
  if (criterion !== 'gini' && criterion !== 'entropy' && criterion !== 'variance') {
    throw new ArgumentError(`'criterion' must be 'gini', 'entropy' or 'variance', got '${String(criterion)}'`);
  }
  if (criterion === 'variance' && numStats !== 3) throw new ArgumentError(`'numStats' must be 3 for 'variance' ([w, Σw·y, Σw·y²]), got ${numStats}`);
  if (!(minLeafWeight >= 0)) throw new ArgumentError(`'minLeafWeight' must be ≥ 0, got ${minLeafWeight}`);
  if (layout.features.length === 0) return null;
  const node = nodeStats(hist, offset, layout, numStats);
  const kind = criterion === 'gini' ? GINI : criterion === 'entropy' ? ENTROPY : VARIANCE;
  const left = new Float64Array(numStats);
  const cand = new Float64Array(numStats);
  const bestLeft = new Float64Array(numStats);
  // best[0] = gain, [1] = listed-feature index, [2] = bin, [3] = missingLeft.
  const best = new Float64Array([MIN_IMPURITY_GAIN, -1, 0, 0]);
  for (let i = 0; i < layout.features.length; i++) {
    const o = offset + numStats * layout.offsets[i];
    const cells = layout.offsets[i + 1] - layout.offsets[i];
    impurityFeatureScan(hist, o, cells, i, numStats, kind, node, minLeafWeight, left, cand, best, bestLeft);
  }
  if (best[1] < 0) return null;
  const right = new Float64Array(numStats);
  for (let s = 0; s < numStats; s++) right[s] = node[s] - bestLeft[s];
  return { feature: layout.features[best[1]], bin: best[2], missingLeft: best[3] === 1, gain: best[0], left: bestLeft, right };
}

const GINI = 0;
const ENTROPY = 1;
const VARIANCE = 2;

function impurityFeatureScan(
  hist: Float64Array, o: number, cells: number, index: number, numStats: number, kind: number,
  node: Float64Array, minLeafWeight: number, left: Float64Array, cand: Float64Array,
  best: Float64Array, bestLeft: Float64Array,
): void {
  let missingSeen = false;
  for (let s = 0; s < numStats; s++) if (hist[o + s] !== 0) missingSeen = true;
  left.fill(0);
  for (let b = 1; b < cells - 1; b++) {
    for (let s = 0; s < numStats; s++) left[s] += hist[o + numStats * b + s];
    for (let side = 0; side < (missingSeen ? 2 : 1); side++) {
      for (let s = 0; s < numStats; s++) cand[s] = side === 0 ? left[s] : left[s] + hist[o + s];
      const gain = impurityGain(kind, node, cand, numStats, minLeafWeight);
      if (gain > best[0]) {
        best[0] = gain;
        best[1] = index;
        best[2] = b;
        best[3] = side;
        bestLeft.set(cand);
      }
    }
  }
}

/** The gain of splitting `node` into `l` and node − l; −1 when a child is lighter than minLeafWeight. */
function impurityGain(kind: number, node: Float64Array, l: Float64Array, numStats: number, minLeafWeight: number): number {
  if (kind === VARIANCE) {
    const W = node[0];
    const WL = l[0];
    const WR = W - WL;
    if (!(WL >= minLeafWeight && WR >= minLeafWeight && WL > 0 && WR > 0)) return -1;
    const d = l[1] / WL - (node[1] - l[1]) / WR;
    return ((WL * WR) / W) * d * d;
  }
  let WL = 0;
  let WR = 0;
  for (let k = 0; k < numStats; k++) {
    WL += l[k];
    WR += node[k] - l[k];
  }
  if (!(WL >= minLeafWeight && WR >= minLeafWeight && WL > 0 && WR > 0)) return -1;
  const W = WL + WR;
  let sum = 0;
  if (kind === GINI) {
    for (let k = 0; k < numStats; k++) {
      const d = l[k] / WL - (node[k] - l[k]) / WR;
      sum += d * d;
    }
    return ((WL * WR) / W) * sum;
  }
  for (let k = 0; k < numStats; k++) {
    const wl = l[k];
    const wr = node[k] - l[k];
    const p = (wl + wr) / W;
    if (wl > 0) sum += wl * Math.log(wl / WL / p);
    if (wr > 0) sum += wr * Math.log(wr / WR / p);
  }
  return sum;
}

/**
 * A node's totals: the sums of the first listed feature's cells, numStats per
 * cell (2 for a (g, h) histogram).
 *
 * @returns length numStats; zeros when no feature is listed.
 */
export function nodeStats(hist: Float64Array, offset: number, layout: HistLayout, numStats: number): Float64Array {
  requireInt('numStats', numStats, 1, 0xffff);
  checkHist(hist, offset, layout, numStats);
  const out = new Float64Array(numStats);
  if (layout.features.length === 0) return out;
  for (let c = layout.offsets[0]; c < layout.offsets[1]; c++) {
    for (let s = 0; s < numStats; s++) out[s] += hist[offset + c * numStats + s];
  }
  return out;
}
