import { AbortedError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { ProgramContext, ProgramJob } from '../../program/types';
import { fillNormal, mixSeed } from '../../random';
import { FactorModel } from './model';
import { Exported, RecommenderProgram } from './program';
import { Csr, Ratings, csrOf } from './ratings';
import { gatherUsers, ownUsers } from './sgd-program';
import { MfSpec } from './spec';
import { allRows, sumRows } from '../../ps/collectives';

const STREAM = { users: 0x05e5, items: 0x17e5 } as const;

/**
 * `mf` with solver 'als': alternating least squares for μ + b_u + b_i +
 * q_i·p_u, each side solved with the other fixed, its bias as one more
 * coordinate (the other side's vector extended by a 1), with λ scaled by
 * the row's rating count (ALS-WR). Users are solved where their ratings
 * are; each rank adds its users' terms into every item's normal equations
 * (AᵢΣ p̃p̃ᵀ, bᵢ = Σ (r − μ − b_u) p̃), the parameter server sums them, and
 * each item is solved by one rank (item mod ranks), whose solution then
 * goes to every rank.
 */
export class AlsProgram extends RecommenderProgram {
  constructor(job: ProgramJob, private readonly mf: MfSpec) {
    super(job, mf);
  }

  protected async fit(ctx: ProgramContext, local: Ratings, mu: number): Promise<{ model: FactorModel; exported: Exported | null }> {
    const k = this.mf.factors;
    const K = k + 1;
    const { users: nU, items: nI } = this;
    const lambda = this.mf.regularization;
    const p = new Float32Array(nU * k);
    const bu = new Float32Array(nU);
    const q = new Float32Array(nI * k);
    const bi = new Float32Array(nI);
    const mine = ownUsers(local);
    for (const u of mine) fillNormal(p, u * k, k, this.mf.initMean, this.mf.initStd, mixSeed(ctx.seed, STREAM.users, u));
    for (let i = 0; i < nI; i++) fillNormal(q, i * k, k, this.mf.initMean, this.mf.initStd, mixSeed(ctx.seed, STREAM.items, i));
    const byUser = csrOf(local, 'user', nU);
    const byItem = csrOf(local, 'item', nI);
    const touched = allRows(nI).filter((i) => byItem.offsets[i + 1] > byItem.offsets[i]);
    const owned = allRows(nI).filter((i) => i % ctx.worldSize === ctx.rank);
    const width = (K * (K + 1)) / 2 + K + 1;
    const solver = new NormalEquations(K);
    for (let epoch = 0; epoch < this.mf.epochs; epoch++) {
      if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');
      const started = process.hrtime.bigint();
      // Users, here: the items' vectors [q_i, 1] against r − μ − b_i.
      for (const u of mine) {
        solver.reset();
        for (let at = byUser.offsets[u]; at < byUser.offsets[u + 1]; at++) {
          const i = byUser.others[at];
          solver.add(q, i * k, k, byUser.values[at] - mu - bi[i]);
        }
        const n = byUser.offsets[u + 1] - byUser.offsets[u];
        solver.solveInto(lambda * n, p, u * k, bu, u);
      }
      // Items: this rank's terms of every touched item, summed; each rank solves the items it owns.
      const terms = itemTerms(byItem, touched, p, bu, mu, k, width);
      const normal = await sumRows(ctx.ps, `als/e${epoch}/normal`, nI, width, touched, terms, owned);
      const solved = new Float32Array(owned.length * K);
      owned.forEach((_item, j) => {
        const n = normal[j * width + width - 1];
        if (n === 0) return; // no rating anywhere: q_i = 0, b_i = 0
        solver.load(normal, j * width);
        solver.solveInto(lambda * n, solved, j * K, solved, j * K + k);
      });
      const all = await sumRows(ctx.ps, `als/e${epoch}/items`, nI, K, owned, solved, allRows(nI));
      for (let i = 0; i < nI; i++) {
        q.set(all.subarray(i * K, i * K + k), i * k);
        bi[i] = all[i * K + k];
      }
      const sums = trainingSums(local, mu, p, bu, q, bi, k);
      ctx.metrics.step(Number(process.hrtime.bigint() - started) / 1e9, local.n);
      ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
      await ctx.progress(epoch, sums);
    }
    const model = new FactorModel(mu, bu, bi, p, q, k, this.ratings.scale);
    const users = await gatherUsers(ctx, mine, p, bu, k, nU);
    return { model, exported: users ? { mu, factors: k, arrays: { userBias: users.bias, itemBias: bi, userFactors: users.factors, itemFactors: q } } : null };
  }
}

/**
 * Each touched item's terms from this rank's users: the upper triangle of
 * Σ p̃p̃ᵀ, then Σ (r − μ − b_u) p̃, then the count, with p̃ = [p_u, 1].
 */
function itemTerms(byItem: Csr, touched: Uint32Array, p: Float32Array, bu: Float32Array, mu: number, k: number, width: number): Float64Array {
  const K = k + 1;
  const out = new Float64Array(touched.length * width);
  const v = new Float64Array(K);
  touched.forEach((i, j) => {
    const row = j * width;
    for (let at = byItem.offsets[i]; at < byItem.offsets[i + 1]; at++) {
      const u = byItem.others[at];
      for (let f = 0; f < k; f++) v[f] = p[u * k + f];
      v[k] = 1;
      let c = row;
      for (let a = 0; a < K; a++) for (let b = a; b < K; b++) out[c++] += v[a] * v[b];
      const target = byItem.values[at] - mu - bu[u];
      for (let a = 0; a < K; a++) out[c++] += target * v[a];
      out[c] += 1;
    }
  });
  return out;
}

/** Solves (A + λI) x = b for one K × K symmetric system by Cholesky, reusing its buffers. */
class NormalEquations {
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly x: Float64Array;

  constructor(private readonly K: number) {
    this.a = new Float64Array(K * K);
    this.b = new Float64Array(K);
    this.x = new Float64Array(K);
  }

  reset(): void {
    this.a.fill(0);
    this.b.fill(0);
  }

  /** Adds one observation: the vector [v[at..at+k), 1] with target t. */
  add(v: Float32Array, at: number, k: number, t: number): void {
    const { a, b, K } = this;
    for (let r = 0; r < K; r++) {
      const vr = r < k ? v[at + r] : 1;
      b[r] += t * vr;
      for (let c = r; c < K; c++) a[r * K + c] += vr * (c < k ? v[at + c] : 1);
    }
  }

  /** Loads summed terms laid out as {@link itemTerms} writes them. */
  load(terms: Float64Array, at: number): void {
    const { a, b, K } = this;
    let c = at;
    for (let r = 0; r < K; r++) for (let s = r; s < K; s++) a[r * K + s] = terms[c++];
    for (let r = 0; r < K; r++) b[r] = terms[c++];
  }

  /** Solves with `ridge` added to the diagonal; writes x[0..K-1) to `factors[fAt..]` and x[K-1] to `bias[bAt]`. */
  solveInto(ridge: number, factors: Float32Array, fAt: number, bias: Float32Array, bAt: number): void {
    const { a, b, x, K } = this;
    // Cholesky in place on the upper triangle: A = UᵀU.
    for (let r = 0; r < K; r++) a[r * K + r] += ridge + 1e-9;
    for (let r = 0; r < K; r++) {
      let d = a[r * K + r];
      for (let m = 0; m < r; m++) d -= a[m * K + r] * a[m * K + r];
      const ur = Math.sqrt(Math.max(d, 1e-12));
      a[r * K + r] = ur;
      for (let c = r + 1; c < K; c++) {
        let s = a[r * K + c];
        for (let m = 0; m < r; m++) s -= a[m * K + r] * a[m * K + c];
        a[r * K + c] = s / ur;
      }
    }
    // Uᵀy = b, then Ux = y.
    for (let r = 0; r < K; r++) {
      let s = b[r];
      for (let m = 0; m < r; m++) s -= a[m * K + r] * x[m];
      x[r] = s / a[r * K + r];
    }
    for (let r = K - 1; r >= 0; r--) {
      let s = x[r];
      for (let m = r + 1; m < K; m++) s -= a[r * K + m] * x[m];
      x[r] = s / a[r * K + r];
    }
    for (let f = 0; f < K - 1; f++) factors[fAt + f] = x[f];
    bias[bAt] = x[K - 1];
  }
}

function trainingSums(local: Ratings, mu: number, p: Float32Array, bu: Float32Array, q: Float32Array, bi: Float32Array, k: number): MetricSums {
  const sums = emptySums();
  for (let r = 0; r < local.n; r++) {
    const u = local.users[r];
    const i = local.items[r];
    let dot = 0;
    for (let f = 0; f < k; f++) dot += p[u * k + f] * q[i * k + f];
    const err = local.values[r] - (mu + bu[u] + bi[i] + dot);
    sums.count++;
    sums.lossSum += err * err;
    sums.squaredError += err * err;
    sums.absoluteError += Math.abs(err);
  }
  return sums;
}
