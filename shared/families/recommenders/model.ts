import { Csr } from './ratings';
import { KnnSpec } from './spec';

/**
 * A trained recommender, in memory: estimates a rating for any user and
 * item index. An index at or past `users` (`items`) is one training never
 * saw; it is estimated from what is known (global mean, the known bias).
 */
export interface Recommender {
  readonly users: number;
  readonly items: number;
  readonly scale: readonly [number, number];
  /** The estimate, clipped to the rating scale. */
  estimate(u: number, i: number): number;
}

export function clip(v: number, scale: readonly [number, number]): number {
  return v < scale[0] ? scale[0] : v > scale[1] ? scale[1] : v;
}

/**
 * Biased matrix factorization (`mf`) and its special case without factors
 * (`baseline`): μ + b_u + b_i + q_i·p_u, as Surprise's SVD estimates.
 * On a training rank `p` holds only that rank's users (the others are zero).
 */
export class FactorModel implements Recommender {
  constructor(
    readonly mu: number,
    readonly userBias: Float32Array,
    readonly itemBias: Float32Array,
    readonly userFactors: Float32Array,
    readonly itemFactors: Float32Array,
    readonly factors: number,
    readonly scale: readonly [number, number],
  ) {}

  get users(): number {
    return this.userBias.length;
  }

  get items(): number {
    return this.itemBias.length;
  }

  estimate(u: number, i: number): number {
    const knownUser = u < this.users;
    const knownItem = i < this.items;
    let est = this.mu;
    if (knownUser) est += this.userBias[u];
    if (knownItem) est += this.itemBias[i];
    if (knownUser && knownItem) est += dot(this.userFactors, u * this.factors, this.itemFactors, i * this.factors, this.factors);
    return clip(est, this.scale);
  }
}

function dot(a: Float32Array, at: number, b: Float32Array, bt: number, k: number): number {
  let s = 0;
  for (let f = 0; f < k; f++) s += a[at + f] * b[bt + f];
  return s;
}

/** What a k-NN model holds besides its settings. */
export interface KnnState {
  mu: number;
  /** Similarities between the compared entities (users for user-based), n × n, row-major. */
  sims: Float32Array;
  /** Ratings grouped by the other side: for user-based, each item's users; for item-based, each user's items. */
  neighbours: Csr;
  /** Mean rating of each compared entity ('means' prediction). */
  means: Float32Array;
  /** Baseline biases ('baseline' prediction, pearson-baseline). */
  userBias: Float32Array;
  itemBias: Float32Array;
  users: number;
  items: number;
  scale: readonly [number, number];
}

/**
 * Neighbourhood collaborative filtering as Surprise's KNNBasic, KNNWithMeans
 * and KNNBaseline estimate: the k most similar neighbours that rated the
 * target, positive similarities only, fewer than `minK` falling back to the
 * mean or baseline.
 */
export class KnnModel implements Recommender {
  readonly users: number;
  readonly items: number;
  readonly scale: readonly [number, number];
  private readonly n: number;
  private candSim = new Float32Array(64);
  private candRating = new Float32Array(64);
  private candWho = new Int32Array(64);
  private order = new Uint32Array(64);

  constructor(readonly spec: KnnSpec, readonly state: KnnState) {
    this.users = state.users;
    this.items = state.items;
    this.scale = state.scale;
    this.n = spec.basedOn === 'user' ? state.users : state.items;
  }

  estimate(u: number, i: number): number {
    const { spec, state } = this;
    const userBased = spec.basedOn === 'user';
    const x = userBased ? u : i;
    const y = userBased ? i : u;
    const knownX = x < this.n;
    const knownY = y < (userBased ? this.items : this.users);
    const xBias = userBased ? state.userBias : state.itemBias;
    const yBias = userBased ? state.itemBias : state.userBias;
    if (!knownX || !knownY) {
      if (spec.prediction !== 'baseline') return clip(state.mu, this.scale);
      let est = state.mu;
      if (knownX) est += xBias[x];
      if (knownY) est += yBias[y];
      return clip(est, this.scale);
    }
    const m = this.gather(x, y);
    let sumSim = 0;
    let sumRatings = 0;
    let actualK = 0;
    for (let c = 0; c < Math.min(spec.k, m); c++) {
      const at = this.order[c];
      const sim = this.candSim[at];
      if (!(sim > 0)) break;
      const nb = this.candWho[at];
      const r = this.candRating[at];
      sumSim += sim;
      if (spec.prediction === 'basic') sumRatings += sim * r;
      else if (spec.prediction === 'means') sumRatings += sim * (r - state.means[nb]);
      else sumRatings += sim * (r - (state.mu + xBias[nb] + yBias[y]));
      actualK++;
    }
    if (spec.prediction === 'basic') {
      // Surprise: too few neighbours is an impossible prediction, answered with the global mean.
      if (actualK < spec.minK || sumSim === 0) return clip(state.mu, this.scale);
      return clip(sumRatings / sumSim, this.scale);
    }
    let est = spec.prediction === 'means' ? state.means[x] : state.mu + xBias[x] + yBias[y];
    if (actualK >= spec.minK && sumSim > 0) est += sumRatings / sumSim;
    return clip(est, this.scale);
  }

  /** The neighbours of `x` that rated `y`, sorted by similarity, highest first (in `order`); returns their count. */
  private gather(x: number, y: number): number {
    const { offsets, others, values } = this.state.neighbours;
    const begin = offsets[y];
    const m = offsets[y + 1] - begin;
    if (m > this.candSim.length) {
      const size = Math.max(m, this.candSim.length * 2);
      this.candSim = new Float32Array(size);
      this.candRating = new Float32Array(size);
      this.candWho = new Int32Array(size);
      this.order = new Uint32Array(size);
    }
    const row = x * this.n;
    for (let c = 0; c < m; c++) {
      const nb = others[begin + c];
      this.candWho[c] = nb;
      this.candRating[c] = values[begin + c];
      this.candSim[c] = this.state.sims[row + nb];
      this.order[c] = c;
    }
    const sims = this.candSim;
    const order = this.order.subarray(0, m);
    order.sort((a, b) => sims[b] - sims[a] || a - b);
    return m;
  }
}
