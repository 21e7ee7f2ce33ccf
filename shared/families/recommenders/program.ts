import { Table } from '../../data/table';
import { AbortedError, DataError, TfleetError } from '../../errors';
import { MetricSums } from '../../metric-sums';
import { ExportTarget, ProgramContext, ProgramJob, TrainingProgram } from '../../program/types';
import { PsHandle } from '../../ps/handle';
import { hostTensor64 } from '../../codec/host-tensor';
import { reduceOnce } from '../../ps/collectives';
import { RatingsInfo } from '../types';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { evaluateRatings, topItems } from './evaluate';
import { ModelArrays, writeRecommender } from './model-files';
import { Recommender } from './model';
import { Ratings, csrOf, ratingsOf } from './ratings';
import { RecommenderSpec } from './spec';
import { allRows, sumRows } from '../../ps/collectives';

/** Users whose top items a model folder records ({@link SAMPLE_FILE}). */
const SAMPLE_USERS = 3;
/** The top items of a few training users, as the job's program ranked them. */
export const SAMPLE_FILE = 'recommendations-sample.json';

/** The ratings description a recommender needs. @throws DataError when the job's data is not ratings. */
export function ratingsInfoOf(job: ProgramJob): RatingsInfo {
  if (!job.info.ratings) throw new DataError("recommender families train on ratings data: set data.train.format to 'ratings'");
  return job.info.ratings;
}

/** What rank 0 exports: the model's arrays and scalars, gathered from every rank. */
export interface Exported {
  mu: number;
  factors: number;
  arrays: ModelArrays;
}

/**
 * What every recommender program shares: its ratings, the global mean,
 * evaluation of the trained model and export by rank 0. A subclass's `fit`
 * trains on this rank's ratings and returns the rank's model (which knows
 * the users this rank holds) and, on rank 0, what to export.
 */
export abstract class RecommenderProgram implements TrainingProgram {
  protected readonly ratings: RatingsInfo;
  private model: Recommender | null = null;
  private exported: Exported | null = null;
  /** Users of this rank's shard whose top items the export records, from the model in memory. */
  private sampleUsers: number[] = [];

  constructor(protected readonly job: ProgramJob, protected readonly spec: RecommenderSpec) {
    this.ratings = ratingsInfoOf(job);
  }

  get users(): number {
    return this.ratings.users.length;
  }

  get items(): number {
    return this.ratings.items.length;
  }

  /**
   * Trains on this rank's ratings; returns the rank's model and, on rank 0,
   * what to export. Unless `exported.arrays` holds the ratings already
   * (k-NN gathers them to train), run gathers them to rank 0 afterwards.
   */
  protected abstract fit(ctx: ProgramContext, local: Ratings, mu: number): Promise<{ model: Recommender; exported: Exported | null }>;

  /** Whether `fit` gathers every rank's ratings itself. */
  protected readonly gathersRatings: boolean = false;

  async run(ctx: ProgramContext): Promise<void> {
    const local = ratingsOf(ctx.train);
    const mu = await globalMean(ctx.ps, local);
    const { model, exported } = await this.fit(ctx, local, mu);
    // Every rank's ratings go to rank 0 with the model: recommendations leave out what a user rated.
    const all = this.gathersRatings ? null : await gatherRatings(ctx, local, false);
    if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');
    this.model = model;
    if (exported) this.exported = all ? { ...exported, arrays: { ...exported.arrays, ...ratingArrays(all) } } : exported;
    this.sampleUsers = [...new Set(local.users.subarray(0, Math.min(local.n, 2000)))].slice(0, SAMPLE_USERS);
  }

  evaluate(table: Table): Promise<MetricSums> {
    return evaluateRatings(this.trained(), table, this.spec);
  }

  async export(target: ExportTarget): Promise<void> {
    if (!this.exported) throw new TfleetError('FAILED_PRECONDITION', 'only rank 0 exports, after it ran');
    await writeRecommender(target.dir, {
      family: this.spec.family, spec: this.spec, info: this.job.info, ratings: this.ratings, source: target.source, ...this.exported,
    });
    // The top items of a few users, as the trained program ranks them: `tfleet recommend` on the saved model must agree.
    const { arrays } = this.exported;
    const all = { n: arrays.ratingUsers.length, users: arrays.ratingUsers as Int32Array, items: arrays.ratingItems as Int32Array, values: arrays.ratingValues as Float32Array };
    const byUser = csrOf(all, 'user', this.users);
    const sample = this.sampleUsers.map((u) => ({
      user: this.ratings.users[u],
      items: topItems(this.trained(), byUser, u, this.spec.topK).items.map(({ item, score }) => ({ item: this.ratings.items[item], score })),
    }));
    await writeFile(join(target.dir, SAMPLE_FILE), JSON.stringify({ users: sample }, null, 2));
  }

  dispose(): void {
    this.model = null;
    this.exported = null;
  }

  private trained(): Recommender {
    if (!this.model) throw new TfleetError('FAILED_PRECONDITION', 'the program has not run');
    return this.model;
  }
}

/** The mean training rating across every rank (an exact float64 sum of ratings and counts). */
export async function globalMean(ps: PsHandle, local: Ratings): Promise<number> {
  let sum = 0;
  for (let r = 0; r < local.n; r++) sum += local.values[r];
  const [total, count] = await reduceOnce(ps, 'rec/mean', hostTensor64([2], Float64Array.of(sum, local.n)), { name: 'sum' });
  if (count === 0) throw new DataError('the training set holds no ratings');
  return total / count;
}

/** Ratings as the arrays a model folder saves. */
export function ratingArrays(r: Ratings): ModelArrays {
  return { ratingUsers: r.users, ratingItems: r.items, ratingValues: r.values };
}

/** Every rank's training ratings, on rank 0 or (`everyRank`) on every rank; null on the others. */
export async function gatherRatings(ctx: ProgramContext, local: Ratings, everyRank: boolean): Promise<Ratings | null> {
  const total = ctx.trainShardRows.reduce((a, b) => a + b, 0);
  const mine = new Float32Array(local.n * 3);
  for (let r = 0; r < local.n; r++) {
    mine[3 * r] = local.users[r];
    mine[3 * r + 1] = local.items[r];
    mine[3 * r + 2] = local.values[r];
  }
  const ids = Uint32Array.from({ length: local.n }, (_, r) => ctx.trainOffset + r);
  const receives = everyRank || ctx.rank === 0;
  const all = await sumRows(ctx.ps, 'rec/ratings', total, 3, ids, mine, receives ? allRows(total) : new Uint32Array(0));
  if (!receives) return null;
  const users = new Int32Array(total);
  const items = new Int32Array(total);
  const values = new Float32Array(total);
  for (let r = 0; r < total; r++) {
    users[r] = all[3 * r];
    items[r] = all[3 * r + 1];
    values[r] = all[3 * r + 2];
  }
  return { n: total, users, items, values };
}
