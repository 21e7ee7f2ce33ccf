import { Table } from './table';

/**
 * Feature moments as one additive statistic: [Σx (cols), Σx² (cols), n].
 * Summed across workers' shards on the parameter server, like gradients.
 */
export function featureMoments(t: Table): Float32Array {
  const { cols, rows, x } = t;
  const sum = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c];
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const out = new Float32Array(2 * cols + 1);
  out.set(sum, 0);
  out.set(sq, cols);
  out[2 * cols] = rows;
  return out;
}

/** Per-feature mean and standard deviation, saved with the model. */
export interface Normalizer {
  mean: number[];
  std: number[];
}

/** Turns summed moments into a normalizer; a constant feature gets std 1. */
export function normalizerFromMoments(m: ArrayLike<number>, cols: number): Normalizer {
  const n = m[2 * cols];
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < cols; c++) {
    const mu = n > 0 ? m[c] / n : 0;
    const variance = n > 0 ? Math.max(0, m[cols + c] / n - mu * mu) : 0;
    const sd = Math.sqrt(variance);
    mean.push(mu);
    std.push(sd > 1e-8 * Math.max(1, Math.abs(mu)) ? sd : 1);
  }
  return { mean, std };
}

/** Standardizes a table's features in place: (x - mean) / std. */
export function applyNormalizer(t: Table, norm: Normalizer): void {
  const { cols, rows, x } = t;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) x[r * cols + c] = (x[r * cols + c] - norm.mean[c]) / norm.std[c];
  }
}
