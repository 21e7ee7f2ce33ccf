import { requireInt } from './argument-checks';

/**
 * Counter-based randomness for trees: every draw is a pure function of
 * (seed, tree, node or row, ...), so a row's bootstrap weight and a node's
 * feature sample do not depend on which worker holds the row or in which order
 * the work happens.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** One murmur3-style block step: scrambles `k` and folds it into `h`. */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * Mixes four uint32 words into one uint32 (murmur3 block steps, then its
 * avalanche finalizer). Inputs are taken modulo 2^32.
 *
 * @returns an integer in [0, 2^32).
 * @example hash32(7, 0, 12, 3) === hash32(7, 0, 12, 3); // true, on every machine
 */
export function hash32(a: number, b: number, c: number, d: number): number {
  let h = 0x2545f491;
  h = mixBlock(h, a | 0);
  h = mixBlock(h, b | 0);
  h = mixBlock(h, c | 0);
  h = mixBlock(h, d | 0);
  h ^= 16; // the byte length, as murmur3 does
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A uniform draw in [0, 1) (32 bits of resolution) determined by its four arguments.
 *
 * @example unitUniform(seed, tree, row, 0); // the same number on every worker
 */
export function unitUniform(seed: number, a: number, b: number, c: number): number {
  return hash32(seed, a, b, c) / 4294967296;
}

/** Salt that keeps the bootstrap stream apart from other uses of (seed, tree, row). */
const POISSON_SALT = 0x9e3779b9;

/**
 * Cumulative Poisson(1) probabilities P(X ≤ k), k = 0..POISSON_MAX. e^-1 is a
 * literal rather than Math.exp(-1) so the table cannot differ between engines.
 */
const POISSON_MAX = 20;
const POISSON_CDF: Float64Array = (() => {
  const cdf = new Float64Array(POISSON_MAX + 1);
  let p = 0.36787944117144233;
  let sum = p;
  cdf[0] = sum;
  for (let k = 1; k <= POISSON_MAX; k++) {
    p /= k;
    sum += p;
    cdf[k] = sum;
  }
  return cdf;
})();

/**
 * The bootstrap weight of global row `row` in tree `tree`: a Poisson(λ = 1)
 * draw by inversion of one uniform, so it depends only on (seed, tree, row).
 *
 * @returns a non-negative integer (0 for about 36.8% of rows; at most 20).
 * @example const w = poissonOne(jobSeed, t, globalRowId);
 */
export function poissonOne(seed: number, tree: number, row: number): number {
  const u = unitUniform(seed, tree, row, POISSON_SALT);
  let k = 0;
  while (k < POISSON_MAX && u >= POISSON_CDF[k]) k++;
  return k;
}

/**
 * `k` distinct feature indices out of `numFeatures`, sorted ascending, chosen
 * by a partial Fisher–Yates shuffle whose swaps are driven by hash32. The same
 * arguments give the same sample on every worker.
 *
 * @param k how many to draw; k ≥ numFeatures returns all of 0..numFeatures−1.
 * @throws ArgumentError when numFeatures or k is not a non-negative integer.
 * @example sampleFeatures(seed, tree, node, 784, 28); // 28 sorted indices
 */
export function sampleFeatures(seed: number, tree: number, node: number, numFeatures: number, k: number): Uint32Array {
  requireInt('numFeatures', numFeatures, 0, 0xffffffff);
  requireInt('k', k, 0, Number.MAX_SAFE_INTEGER);
  const perm = new Uint32Array(numFeatures);
  for (let i = 0; i < numFeatures; i++) perm[i] = i;
  if (k >= numFeatures) return perm;
  for (let i = 0; i < k; i++) {
    // Scaling a uniform instead of taking hash % n keeps the modulo bias out.
    const j = i + Math.floor(unitUniform(seed, tree, node, i) * (numFeatures - i));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm.slice(0, k).sort();
}
