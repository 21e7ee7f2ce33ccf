import { AbortedError, DataError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { ProgramContext, ProgramJob } from '../../program/types';
import { UpdateRuleSpec } from '../../ps/rules';
import { fillNormal, mixSeed, seededRandom, shuffleInPlace } from '../../random';
import { FactorModel } from './model';
import { Exported, RecommenderProgram } from './program';
import { Ratings } from './ratings';
import { BaselineSpec, MfSpec } from './spec';
import { allRows, sumRows } from '../../ps/collectives';

/** Stream ids of the seeded choices, so they never share random numbers. */
const STREAM = { users: 0x05e5, items: 0x17e5, order: 0x0de5 } as const;
const ITEM_FACTORS = 'mf/item-factors';
const ITEM_BIAS = 'mf/item-bias';

/** What the SGD loop needs of an `mf` (factors) or `baseline` (none) spec. */
type SgdSettings = Pick<MfSpec, 'factors' | 'epochs' | 'learningRate' | 'regularization' | 'initMean' | 'initStd' | 'batchSize' | 'serverOptimizer'>;

export function sgdSettings(spec: MfSpec | BaselineSpec): SgdSettings {
  if (spec.family === 'mf') return spec;
  return { ...spec, factors: 0, initMean: 0, initStd: 0, serverOptimizer: 'sgd' };
}

/**
 * Surprise's SVD (and, without factors, BaselineOnly's SGD) on the fleet.
 * Ratings are sharded by user, so a user's factors and bias live on one
 * rank and never travel; item factors and biases are row tables on the
 * parameter server. A step is `batchSize` of this rank's ratings: it pulls
 * the item rows they touch, runs Surprise's per-rating updates on them
 * locally, and pushes each row's summed gradient, which the server applies
 * with the row's learning rate (or AdaGrad) — on one worker exactly the
 * sequential procedure; on N, each step's item rows are stale by the
 * other ranks' updates of that step. The push of a step carries the pull
 * of the next step's rows: one round trip per step.
 */
export class SgdProgram extends RecommenderProgram {
  private readonly settings: SgdSettings;
  /** This rank's user rows as training leaves them: a checkpoint's part. */
  private userRows: { mine: Uint32Array; p: Float32Array; bu: Float32Array } | null = null;

  /** This rank's users: their ids, biases and factors (the item rows are the server's tables). */
  snapshot(): Uint8Array {
    const { mine, p, bu } = this.userRows!;
    return encodeUserRows(mine, p, bu, this.settings.factors);
  }

  constructor(job: ProgramJob, spec: MfSpec | BaselineSpec) {
    super(job, spec);
    this.settings = sgdSettings(spec);
  }

  protected async fit(ctx: ProgramContext, local: Ratings, mu: number): Promise<{ model: FactorModel; exported: Exported | null }> {
    const s = this.settings;
    const k = s.factors;
    const { users: nU, items: nI } = this;
    const { ps } = ctx;
    const p = new Float32Array(nU * k);
    const bu = new Float32Array(nU);
    const mine = ownUsers(local);
    for (const u of mine) fillNormal(p, u * k, k, s.initMean, s.initStd, mixSeed(ctx.seed, STREAM.users, u));
    // A resumed attempt takes its users' rows from the checkpoint, whichever rank held them then.
    for (const state of ctx.resume?.states ?? []) decodeUserRows(state, p, bu, k);
    this.userRows = { mine, p, bu };
    const first = ctx.resume?.round ?? 0;
    const rule: UpdateRuleSpec = s.serverOptimizer === 'adagrad'
      ? { name: 'adagrad', learningRate: s.learningRate, initialAccumulator: 0.1, epsilon: 1e-7 }
      : { name: 'sgd', learningRate: s.learningRate, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 };
    const keys = k > 0 ? [ITEM_FACTORS, ITEM_BIAS] : [ITEM_BIAS];
    if (k > 0) await ps.createTables([{ key: ITEM_FACTORS, rows: nI, width: k }], rule, { kind: 'normal', mean: s.initMean, std: s.initStd, seed: mixSeed(ctx.seed, STREAM.items) });
    await ps.createTables([{ key: ITEM_BIAS, rows: nI, width: 1 }], rule, { kind: 'zeros' });

    const largest = Math.max(...ctx.trainShardRows);
    const steps = Math.max(1, Math.ceil(largest / s.batchSize));
    const plan = new StepPlan(local, nI, steps, (epoch) => mixSeed(ctx.seed, STREAM.order, epoch, ctx.rank));
    let rows = plan.rows(first * steps);
    // The tables' version is the server's step count: after a resume on another number of ranks it is not first × steps.
    let { tensors, version: v0 } = await ps.pullRows(keys, rows, 0);
    const total = s.epochs * steps;
    const psStep = (t: number): number => v0 + t - first * steps;
    let sums = emptySums();
    for (let t = first * steps; t < total; t++) {
      if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');
      const started = process.hrtime.bigint();
      const q = k > 0 ? (tensors.get(ITEM_FACTORS)!.data as Float32Array).slice() : new Float32Array(0);
      const bi = (tensors.get(ITEM_BIAS)!.data as Float32Array).slice();
      const gq = new Float32Array(q.length);
      const gb = new Float32Array(bi.length);
      const ratings = plan.ratings(t);
      sgdPass(local, ratings, plan.slotOf, { mu, k, lr: s.learningRate, reg: s.regularization, p, bu, q, bi, gq, gb }, sums);
      plan.release(rows);
      const next = t + 1 < total ? plan.rows(t + 1) : new Uint32Array(0);
      const grads = new Map([[ITEM_BIAS, { shape: [rows.length, 1], data: gb, rowIds: rows }]]);
      if (k > 0) grads.set(ITEM_FACTORS, { shape: [rows.length, k], data: gq, rowIds: rows });
      ({ tensors } = await ps.pushPull(psStep(t), ratings.length, grads, { pullRows: next }));
      rows = next;
      ctx.metrics.step(Number(process.hrtime.bigint() - started) / 1e9, ratings.length);
      if ((t + 1) % steps === 0) {
        ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
        await ctx.progress((t + 1) / steps - 1, sums);
        sums = emptySums();
      }
    }
    // The trained item rows, whole; then every rank's user rows to rank 0 for export.
    const final = await ps.pull(keys, psStep(total));
    const itemFactors = k > 0 ? (final.tensors.get(ITEM_FACTORS)!.data as Float32Array).slice() : new Float32Array(0);
    const itemBias = (final.tensors.get(ITEM_BIAS)!.data as Float32Array).slice();
    await ps.release(keys);
    const model = new FactorModel(mu, bu, itemBias, p, itemFactors, k, this.ratings.scale);
    const exported = await gatherUsers(ctx, mine, p, bu, k, nU);
    return { model, exported: exported ? { mu, factors: k, arrays: { userBias: exported.bias, itemBias, userFactors: exported.factors, itemFactors } } : null };
  }
}

/** User rows as bytes: count, ids (uint32), biases, then factors (float32, k per user). */
export function encodeUserRows(ids: Uint32Array, p: Float32Array, bu: Float32Array, k: number): Uint8Array {
  const out = new ArrayBuffer(4 + ids.length * (8 + 4 * k));
  new Uint32Array(out, 0, 1)[0] = ids.length;
  new Uint32Array(out, 4, ids.length).set(ids);
  const bias = new Float32Array(out, 4 + 4 * ids.length, ids.length);
  const factors = new Float32Array(out, 4 + 8 * ids.length, ids.length * k);
  ids.forEach((u, j) => {
    bias[j] = bu[u];
    factors.set(p.subarray(u * k, (u + 1) * k), j * k);
  });
  return new Uint8Array(out);
}

/**
 * Writes the user rows of {@link encodeUserRows} bytes into `p` and `bu`.
 * @throws DataError when the bytes do not hold whole rows of `k` factors for users within `bu`.
 */
export function decodeUserRows(bytes: Uint8Array, p: Float32Array, bu: Float32Array, k: number): void {
  const copy = bytes.slice();
  const n = copy.length >= 4 ? new Uint32Array(copy.buffer, 0, 1)[0] : -1;
  if (n < 0 || copy.length !== 4 + n * (8 + 4 * k)) throw new DataError(`a checkpoint's user rows hold ${copy.length} bytes, not whole rows of ${k} factors`);
  const ids = new Uint32Array(copy.buffer, 4, n);
  const bias = new Float32Array(copy.buffer, 4 + 4 * n, n);
  const factors = new Float32Array(copy.buffer, 4 + 8 * n, n * k);
  ids.forEach((u, j) => {
    if (u >= bu.length) throw new DataError(`a checkpoint's user row ${u} is outside the ${bu.length} users`);
    bu[u] = bias[j];
    p.set(factors.subarray(j * k, (j + 1) * k), u * k);
  });
}

/** The users this rank holds ratings of, ascending. */
export function ownUsers(local: Ratings): Uint32Array {
  const seen = new Set<number>();
  for (let r = 0; r < local.n; r++) seen.add(local.users[r]);
  return Uint32Array.from([...seen].sort((a, b) => a - b));
}

/** Every rank's user rows (bias then factors) on rank 0; null elsewhere. */
export async function gatherUsers(ctx: ProgramContext, mine: Uint32Array, p: Float32Array, bu: Float32Array, k: number, nU: number): Promise<{ bias: Float32Array; factors: Float32Array } | null> {
  const w = k + 1;
  const rows = new Float32Array(mine.length * w);
  mine.forEach((u, j) => {
    rows[j * w] = bu[u];
    rows.set(p.subarray(u * k, (u + 1) * k), j * w + 1);
  });
  const all = await sumRows(ctx.ps, 'rec/users', nU, w, mine, rows, ctx.rank === 0 ? allRows(nU) : new Uint32Array(0));
  if (ctx.rank !== 0) return null;
  const bias = new Float32Array(nU);
  const factors = new Float32Array(nU * k);
  for (let u = 0; u < nU; u++) {
    bias[u] = all[u * w];
    factors.set(all.subarray(u * w + 1, (u + 1) * w), u * k);
  }
  return { bias, factors };
}

/**
 * Which ratings each step visits and which item rows it touches: each
 * epoch visits this rank's ratings in a seeded order, cut into `steps`
 * equal parts (every rank runs the same number of steps).
 */
class StepPlan {
  /** The slot of an item row in the step being run, else -1. */
  readonly slotOf: Int32Array;
  /** Visit orders of the latest epochs asked for (a step looks one ahead). */
  private readonly orders = new Map<number, Uint32Array>();

  constructor(private readonly local: Ratings, items: number, private readonly steps: number, private readonly seedOf: (epoch: number) => number) {
    this.slotOf = new Int32Array(items).fill(-1);
  }

  /** Indices of the ratings of step `t`. */
  ratings(t: number): Uint32Array {
    const order = this.orderOf(Math.floor(t / this.steps));
    const s = t % this.steps;
    const n = this.local.n;
    return order.subarray(Math.floor((s * n) / this.steps), Math.floor(((s + 1) * n) / this.steps));
  }

  /** The distinct item rows step `t` touches, in first-touch order; sets their slots. */
  rows(t: number): Uint32Array {
    const ids: number[] = [];
    for (const r of this.ratings(t)) {
      const i = this.local.items[r];
      if (this.slotOf[i] < 0) this.slotOf[i] = ids.push(i) - 1;
    }
    return Uint32Array.from(ids);
  }

  /** Clears the slots of a finished step's rows, before the next step's are set. */
  release(rows: Uint32Array): void {
    for (const i of rows) this.slotOf[i] = -1;
  }

  private orderOf(epoch: number): Uint32Array {
    let order = this.orders.get(epoch);
    if (!order) {
      order = Uint32Array.from({ length: this.local.n }, (_, i) => i);
      shuffleInPlace(order, seededRandom(this.seedOf(epoch)));
      this.orders.set(epoch, order);
      this.orders.delete(epoch - 2);
    }
    return order;
  }
}

interface SgdState {
  mu: number;
  k: number;
  lr: number;
  reg: number;
  p: Float32Array;
  bu: Float32Array;
  /** This step's item rows (slots), updated as the step goes. */
  q: Float32Array;
  bi: Float32Array;
  /** The step's summed gradients per slot: what the server applies. */
  gq: Float32Array;
  gb: Float32Array;
}

/**
 * Surprise's per-rating SGD update over one step's ratings: the error of
 * μ + b_u + b_i + q_i·p_u, then b_u, b_i, p_u and q_i each move by
 * lr·(gradient), p_u and q_i from their values before the rating.
 */
function sgdPass(local: Ratings, ratings: Uint32Array, slotOf: Int32Array, st: SgdState, sums: MetricSums): void {
  const { mu, k, lr, reg, p, bu, q, bi, gq, gb } = st;
  for (let j = 0; j < ratings.length; j++) {
    const r = ratings[j];
    const u = local.users[r];
    const slot = slotOf[local.items[r]];
    const pu = u * k;
    const qi = slot * k;
    let dot = 0;
    for (let f = 0; f < k; f++) dot += q[qi + f] * p[pu + f];
    const err = local.values[r] - (mu + bu[u] + bi[slot] + dot);
    sums.count++;
    sums.lossSum += err * err;
    sums.squaredError += err * err;
    sums.absoluteError += Math.abs(err);
    bu[u] += lr * (err - reg * bu[u]);
    const g = -(err - reg * bi[slot]);
    gb[slot] += g;
    bi[slot] -= lr * g;
    for (let f = 0; f < k; f++) {
      const puf = p[pu + f];
      const qif = q[qi + f];
      p[pu + f] += lr * (err * qif - reg * puf);
      const gf = -(err * puf - reg * qif);
      gq[qi + f] += gf;
      q[qi + f] -= lr * gf;
    }
  }
}
