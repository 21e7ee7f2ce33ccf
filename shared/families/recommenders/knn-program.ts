import { AbortedError, DataError } from '../../errors';
import { ProgramContext, ProgramJob } from '../../program/types';
import { evaluateRatings } from './evaluate';
import { baselineAls } from './baseline-als';
import { KnnModel } from './model';
import { Exported, RecommenderProgram, gatherRatings, ratingArrays } from './program';
import { Csr, Ratings, countsOf, csrOf } from './ratings';
import { KnnSpec, Similarity } from './spec';
import { reduceLarge } from '../../ps/collectives';

/** Most pair statistics a job may sum (float64 values): 2^28, 2 GiB per rank. */
const MAX_PAIR_VALUES = 2 ** 28;

/** Sums kept per pair of compared entities, by similarity. */
const STATS: Record<Similarity, number> = { cosine: 4, msd: 2, pearson: 6, 'pearson-baseline': 4 };

/**
 * k-NN collaborative filtering on the fleet. Of two compared entities
 * (users, for user-based), the similarity is a function of sums over the
 * ratings they share; the ratings are sharded by the other side (items),
 * so each rank adds its shard's terms into every pair's sums and the
 * parameter server adds the ranks'. Every rank then holds the same
 * similarities and, to predict, every rank's ratings.
 */
export class KnnProgram extends RecommenderProgram {
  protected override readonly gathersRatings = true;

  constructor(job: ProgramJob, private readonly knn: KnnSpec) {
    super(job, knn);
  }

  protected async fit(ctx: ProgramContext, local: Ratings, mu: number): Promise<{ model: KnnModel; exported: Exported | null }> {
    const { knn } = this;
    const userBased = knn.basedOn === 'user';
    const n = userBased ? this.users : this.items;
    const others = userBased ? this.items : this.users;
    const pairs = (n * (n - 1)) / 2;
    const S = STATS[knn.similarity];
    if (pairs * S > MAX_PAIR_VALUES) {
      throw new DataError(`knn: ${n} ${userBased ? 'users' : 'items'} make ${pairs} pairs of ${S} sums, more than ${MAX_PAIR_VALUES} values; use basedOn '${userBased ? 'item' : 'user'}' or fewer ${userBased ? 'users' : 'items'}`);
    }
    const needsBaselines = knn.similarity === 'pearson-baseline' || knn.prediction === 'baseline';
    const biases = needsBaselines
      ? await baselineAls(ctx.ps, 'knn/baseline', local, this.users, this.items, mu, knn.baseline, ctx.signal)
      : { userBias: new Float32Array(this.users), itemBias: new Float32Array(this.items) };
    const xBias = userBased ? biases.userBias : biases.itemBias;
    const yBias = userBased ? biases.itemBias : biases.userBias;
    if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');

    const byOther = csrOf(local, userBased ? 'item' : 'user', others);
    const stats = pairStatistics(byOther, n, knn.similarity, mu, xBias, yBias);
    const summed = await reduceLarge(ctx.ps, 'knn/pairs', stats, { name: 'sum' });
    const sims = similarities(summed, n, knn);
    const means = knn.prediction === 'means' ? await meansOf(ctx, local, userBased ? 'user' : 'item', n) : new Float32Array(n);

    const state = {
      mu, sims, means, userBias: biases.userBias, itemBias: biases.itemBias, users: this.users, items: this.items, scale: this.ratings.scale,
    };
    // This rank's ratings hold every neighbour of its own training rows (they are sharded by the other side): the round's loss needs no more.
    const sums = await evaluateRatings(new KnnModel(knn, { ...state, neighbours: byOther }), ctx.train, knn);
    ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
    await ctx.progress(0, sums);
    // Any test row needs any rank's ratings: every rank gets them all.
    const all = (await gatherRatings(ctx, local, true))!;
    const model = new KnnModel(knn, { ...state, neighbours: csrOf(all, userBased ? 'item' : 'user', others) });
    const exported = ctx.rank === 0
      ? { mu, factors: 0, arrays: { sims, means, userBias: biases.userBias, itemBias: biases.itemBias, ...ratingArrays(all) } }
      : null;
    return { model, exported };
  }
}

/** Mean rating of each compared entity, over every rank's ratings. */
async function meansOf(ctx: ProgramContext, local: Ratings, by: 'user' | 'item', n: number): Promise<Float32Array> {
  const key = by === 'user' ? local.users : local.items;
  const sums = new Float64Array(2 * n);
  sums.set(countsOf(local, by, n), n);
  for (let r = 0; r < local.n; r++) sums[key[r]] += local.values[r];
  const total = await reduceLarge(ctx.ps, 'knn/means', sums, { name: 'sum' });
  return Float32Array.from({ length: n }, (_, x) => (total[n + x] > 0 ? total[x] / total[n + x] : 0));
}

/** Index of pair (a, b), a < b, in the upper triangle of n × n. */
function pairIndex(a: number, b: number, n: number): number {
  return a * n - (a * (a + 1)) / 2 + (b - a - 1);
}

/**
 * This rank's terms of every pair's sums: for each group (an item's
 * ratings, for user-based), every two of its compared entities a < b add
 * their ratings' products, squares and count (the sums
 * Surprise's similarity functions keep: see {@link similarities}).
 */
function pairStatistics(groups: Csr, n: number, similarity: Similarity, mu: number, xBias: Float32Array, yBias: Float32Array): Float64Array {
  const S = STATS[similarity];
  const out = new Float64Array(((n * (n - 1)) / 2) * S);
  const who: number[] = [];
  const values = new Float64Array(n);
  for (let y = 0; y + 1 < groups.offsets.length; y++) {
    const begin = groups.offsets[y];
    const end = groups.offsets[y + 1];
    who.length = 0;
    for (let at = begin; at < end; at++) {
      const x = groups.others[at];
      who.push(x);
      // pearson-baseline compares deviations from the baseline μ + b_x + b_y.
      values[x] = similarity === 'pearson-baseline' ? groups.values[at] - (mu + xBias[x] + yBias[y]) : groups.values[at];
    }
    who.sort((a, b) => a - b);
    for (let ia = 0; ia < who.length; ia++) {
      const a = who[ia];
      const ra = values[a];
      const rowBase = a * n - (a * (a + 1)) / 2 - a - 1;
      for (let ib = ia + 1; ib < who.length; ib++) {
        const b = who[ib];
        const rb = values[b];
        const at = (rowBase + b) * S;
        out[at] += 1;
        if (similarity === 'msd') out[at + 1] += (ra - rb) * (ra - rb);
        else {
          out[at + 1] += ra * rb;
          out[at + 2] += ra * ra;
          out[at + 3] += rb * rb;
          if (similarity === 'pearson') {
            out[at + 4] += ra;
            out[at + 5] += rb;
          }
        }
      }
    }
  }
  return out;
}

/**
 * Similarities from summed pair statistics, as Surprise computes them:
 * pairs with fewer than `minSupport` common ratings get 0; msd is
 * 1 / (mean squared difference + 1); cosine and pearson the usual ratios
 * (0 when undefined); pearson-baseline the cosine of baseline deviations
 * shrunk by (n − 1) / (n − 1 + shrinkage). Every entity is 1 to itself.
 */
function similarities(stats: Float64Array, n: number, spec: KnnSpec): Float32Array {
  const S = STATS[spec.similarity];
  const sims = new Float32Array(n * n);
  for (let a = 0; a < n; a++) {
    sims[a * n + a] = 1;
    for (let b = a + 1; b < n; b++) {
      const at = pairIndex(a, b, n) * S;
      const freq = stats[at];
      let sim = 0;
      if (freq >= spec.minSupport && freq > 0) {
        if (spec.similarity === 'msd') sim = 1 / (stats[at + 1] / freq + 1);
        else if (spec.similarity === 'pearson') {
          const num = freq * stats[at + 1] - stats[at + 4] * stats[at + 5];
          const den = Math.sqrt((freq * stats[at + 2] - stats[at + 4] ** 2) * (freq * stats[at + 3] - stats[at + 5] ** 2));
          sim = den > 0 ? num / den : 0;
        } else {
          const den = Math.sqrt(stats[at + 2] * stats[at + 3]);
          sim = den > 0 ? stats[at + 1] / den : 0;
          if (spec.similarity === 'pearson-baseline') sim *= (freq - 1) / (freq - 1 + spec.shrinkage);
        }
      }
      sims[a * n + b] = sim;
      sims[b * n + a] = sim;
    }
  }
  return sims;
}
