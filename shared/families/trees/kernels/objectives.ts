import { ArgumentError } from '../../../errors';
import { requireInt, requireLength } from './argument-checks';

/**
 * Boosting objectives: per-row gradients and hessians of the loss with respect
 * to the margins, the loss itself, prediction transforms, and the integer
 * quantization that makes cross-worker histogram sums exact.
 *
 * @example
 * gradients('logistic', margins, y, rows, 2, g, h);
 * const s = quantizationScale(maxAbsOverWorkers, totalRows); // one scale for g and h
 * quantize(g, rows, s, gq); quantize(h, rows, s, hq);
 */

/** squared: least squares; logistic: binary log-loss; softmax: multinomial log-loss. */
export type ObjectiveName = 'squared' | 'logistic' | 'softmax';

/** Smallest hessian handed to the split finder, so H + λ > 0 even with λ = 0. */
const MIN_HESSIAN = 1e-16;
/** Probabilities are clipped to [EPS, 1 − EPS] in the loss. */
const EPS = 1e-15;

function sigmoid(m: number): number {
  // Two branches so exp never overflows.
  if (m >= 0) return 1 / (1 + Math.exp(-m));
  const e = Math.exp(m);
  return e / (1 + e);
}

function checkShapes(objective: ObjectiveName, margins: ArrayLike<number>, y: Float32Array, rows: number, numClasses: number): number {
  requireInt('rows', rows, 0, 0x7fffffff);
  if (objective === 'softmax') requireInt('numClasses', numClasses, 2, 0xffff);
  else if (objective !== 'squared' && objective !== 'logistic') {
    throw new ArgumentError(`'objective' must be 'squared', 'logistic' or 'softmax', got '${String(objective)}'`);
  }
  const outputs = objective === 'softmax' ? numClasses : 1;
  requireLength('margins', margins, outputs * rows);
  requireLength('y', y, rows);
  return outputs;
}

function classOfRow(objective: ObjectiveName, y: Float32Array, r: number, numClasses: number): number {
  const k = y[r];
  const limit = objective === 'logistic' ? 2 : numClasses;
  if (!(k >= 0 && k < limit && k === Math.floor(k))) throw new ArgumentError(`'y[${r}]' = ${k} is not a class id in [0, ${limit})`);
  return k;
}

/**
 * First and second derivatives of each row's loss with respect to its margins.
 * squared: g = m − y, h = 1; logistic: p = σ(m), g = p − y, h = max(p(1 − p), 1e−16);
 * softmax: p = softmax over the classes, g = p_k − [y = k], h = max(2·p_k(1 − p_k), 1e−16)
 * (XGBoost's factor 2, an upper bound of the Hessian's diagonal).
 *
 * @param margins length rows (K·rows for softmax, class-major: `[k·rows + r]`).
 * @param y targets (squared) or class ids (logistic 0/1, softmax 0..K−1).
 * @param numClasses K for softmax; ignored otherwise.
 * @param g written, same layout as margins.
 * @param h written, same layout as margins.
 * @throws ArgumentError for an unknown objective, short arrays, or a bad class id.
 */
export function gradients(
  objective: ObjectiveName, margins: Float64Array, y: Float32Array, rows: number, numClasses: number,
  g: Float64Array, h: Float64Array,
): void {
  const outputs = checkShapes(objective, margins, y, rows, numClasses);
  requireLength('g', g, outputs * rows);
  requireLength('h', h, outputs * rows);
  if (objective === 'squared') {
    for (let r = 0; r < rows; r++) {
      g[r] = margins[r] - y[r];
      h[r] = 1;
    }
  } else if (objective === 'logistic') {
    for (let r = 0; r < rows; r++) {
      const p = sigmoid(margins[r]);
      g[r] = p - classOfRow(objective, y, r, 2);
      h[r] = Math.max(p * (1 - p), MIN_HESSIAN);
    }
  } else {
    softmaxGradients(margins, y, rows, numClasses, g, h);
  }
}

function softmaxGradients(margins: Float64Array, y: Float32Array, rows: number, K: number, g: Float64Array, h: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const label = classOfRow('softmax', y, r, K);
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, margins[k * rows + r]);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(margins[k * rows + r] - max);
      g[k * rows + r] = e; // staged here; normalized below
      sum += e;
    }
    for (let k = 0; k < K; k++) {
      const p = g[k * rows + r] / sum;
      g[k * rows + r] = p - (k === label ? 1 : 0);
      h[k * rows + r] = Math.max(2 * p * (1 - p), MIN_HESSIAN);
    }
  }
}

/**
 * The summed loss over the rows. squared: Σ (m − y)²/2 (the ½ makes g = m − y
 * its derivative); logistic: Σ −[y·ln p + (1 − y)·ln(1 − p)]; softmax: Σ −ln p_y;
 * probabilities clipped to [1e−15, 1 − 1e−15].
 *
 * @throws ArgumentError as {@link gradients}.
 */
export function lossSum(objective: ObjectiveName, margins: Float64Array, y: Float32Array, rows: number, numClasses: number): number {
  checkShapes(objective, margins, y, rows, numClasses);
  let sum = 0;
  if (objective === 'squared') {
    for (let r = 0; r < rows; r++) {
      const d = margins[r] - y[r];
      sum += 0.5 * d * d;
    }
  } else if (objective === 'logistic') {
    for (let r = 0; r < rows; r++) {
      const p = clip(sigmoid(margins[r]));
      sum -= classOfRow(objective, y, r, 2) === 1 ? Math.log(p) : Math.log(1 - p);
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const label = classOfRow(objective, y, r, numClasses);
      let max = -Infinity;
      for (let k = 0; k < numClasses; k++) max = Math.max(max, margins[k * rows + r]);
      let z = 0;
      for (let k = 0; k < numClasses; k++) z += Math.exp(margins[k * rows + r] - max);
      sum -= Math.log(clip(Math.exp(margins[label * rows + r] - max) / z));
    }
  }
  return sum;
}

function clip(p: number): number {
  return p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
}

/**
 * Outputs per row of {@link probabilities}: 1 (squared), 2 (logistic), K (softmax).
 */
export function numProbabilities(objective: ObjectiveName, numClasses: number): number {
  return objective === 'squared' ? 1 : objective === 'logistic' ? 2 : numClasses;
}

/**
 * One row's prediction from its margins. squared: out[0] = the margin;
 * logistic: out = [1 − p, p] with p = σ(m) (class probabilities of classes 0, 1);
 * softmax: out[k] = softmax of the K margins.
 *
 * @param margins the row's margins: 1, or K for softmax (one row, so contiguous).
 * @param out length ≥ {@link numProbabilities}.
 * @throws ArgumentError when out is too short.
 */
export function probabilities(objective: ObjectiveName, margins: ArrayLike<number>, out: Float64Array): void {
  if (objective === 'squared') {
    requireLength('out', out, 1);
    out[0] = margins[0];
  } else if (objective === 'logistic') {
    requireLength('out', out, 2);
    const p = sigmoid(margins[0]);
    out[0] = 1 - p;
    out[1] = p;
  } else {
    const K = margins.length;
    requireLength('out', out, K);
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, margins[k]);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      out[k] = Math.exp(margins[k] - max);
      sum += out[k];
    }
    for (let k = 0; k < K; k++) out[k] /= sum;
  }
}

/**
 * out[i] = Math.round(values[i]·scale) for i < count: integers, so sums over
 * rows and workers are exact (and order-independent) while |Σ| < 2^53.
 * `out` may be `values`.
 *
 * @throws ArgumentError for short arrays or a scale that is not a positive finite number.
 */
export function quantize(values: Float64Array, count: number, scale: number, out: Float64Array): void {
  requireInt('count', count, 0, values.length);
  requireLength('out', out, count);
  if (!(scale > 0 && scale < Infinity)) throw new ArgumentError(`'scale' must be a positive finite number, got ${scale}`);
  for (let i = 0; i < count; i++) out[i] = Math.round(values[i] * scale);
}

const TWO_52 = 4503599627370496;

/**
 * The largest power of two s with totalRows·maxAbs·s ≤ 2^52 (1 when maxAbs is 0):
 * after rounding each |value·s| ≤ maxAbs·s + ½, so a sum over every row of every
 * worker stays below 2^53 and is exact. Use one scale for g and h (the max of
 * both maxAbs) so split gains and leaf weights keep their meaning.
 *
 * @param maxAbs the largest |g| or |h| over all workers (max-reduced), ≥ 0.
 * @param totalRows rows over all workers, ≥ 1.
 * @throws ArgumentError for a negative or non-finite maxAbs, totalRows < 1, or an overflowing product.
 */
export function quantizationScale(maxAbs: number, totalRows: number): number {
  if (!(maxAbs >= 0 && maxAbs < Infinity)) throw new ArgumentError(`'maxAbs' must be a finite number ≥ 0, got ${maxAbs}`);
  requireInt('totalRows', totalRows, 1, Number.MAX_SAFE_INTEGER);
  if (maxAbs === 0) return 1;
  const m = totalRows * maxAbs;
  if (!(m < Infinity)) throw new ArgumentError(`'maxAbs' ${maxAbs} × 'totalRows' ${totalRows} overflows float64`);
  // Start near the answer, then step: products with powers of two are exact.
  let s = 2 ** Math.max(-1074, Math.min(1023, Math.floor(Math.log2(TWO_52 / m))));
  while (m * s > TWO_52) s /= 2;
  while (s < 2 ** 1023 && m * s * 2 <= TWO_52) s *= 2;
  return s;
}
