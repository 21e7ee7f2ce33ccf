import { JobSpec } from '../../config/job-spec';
import { TensorMap, float32Tensors, hostTensor } from '../../codec/host-tensor';
import { Normalizer, Table, applyNormalizer, featureMoments, normalizerFromMoments } from '../../data';
import { AbortedError, TfleetError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { PsHandle } from '../../ps/handle';
import { UpdateRuleSpec } from '../../ps/rules';
import { ExportTarget, ProgramContext, ProgramJob, TrainingProgram } from '../../program/types';
import { mixSeed, seededRandom, shuffleInPlace } from '../../random';
import { Batch, Replica } from './replica';

/** Key of the feature-moment statistic summed across shards. */
export const MOMENTS_KEY = 'norm/moments';

function asBatch(t: Table): Batch {
  return { rows: t.rows, cols: t.cols, x: t.x, y: t.y };
}

/** Copies the rows named by `order[from..to)` into a batch. */
function gather(t: Table, order: Uint32Array, from: number, to: number): Batch {
  const rows = Math.max(0, Math.min(to, order.length) - from);
  const x = new Float32Array(rows * t.cols);
  const y = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const r = order[from + i];
    x.set(t.x.subarray(r * t.cols, (r + 1) * t.cols), i * t.cols);
    y[i] = t.y[r];
  }
  return { rows, cols: t.cols, x, y };
}

/** Sums every rank's feature moments on the server and standardizes this rank's shards with the result. */
async function standardize(ps: PsHandle, train: Table, test: Table | null): Promise<Normalizer> {
  const moments = featureMoments(train);
  await ps.init(new Map([[MOMENTS_KEY, hostTensor([moments.length])]]), { name: 'sum' });
  const { tensors } = await ps.pushPull(0, train.rows, new Map([[MOMENTS_KEY, hostTensor([moments.length], moments)]]));
  const norm = normalizerFromMoments(float32Tensors(tensors, 'moments').get(MOMENTS_KEY)!.data, train.cols);
  applyNormalizer(train, norm);
  if (test) applyNormalizer(test, norm);
  return norm;
}

/** Initializes every parameter key with its rule (first init wins across ranks). */
async function initParams(ps: PsHandle, params: TensorMap, ruleFor: (key: string) => UpdateRuleSpec): Promise<void> {
  const groups = new Map<string, { rule: UpdateRuleSpec; tensors: TensorMap }>();
  for (const [key, t] of params) {
    const rule = ruleFor(key);
    const id = JSON.stringify(rule);
    if (!groups.has(id)) groups.set(id, { rule, tensors: new Map() });
    groups.get(id)!.tensors.set(key, t);
  }
  for (const g of groups.values()) await ps.init(g.tensors, g.rule);
}

/** Steps per epoch so that the largest shard is covered: every rank runs the same count. */
export function stepsPerEpoch(shardRows: readonly number[], batchSize: number): number {
  return Math.max(1, Math.ceil(Math.max(0, ...shardRows) / batchSize));
}

/**
 * The minibatch gradient program every tfjs family trains with: epochs ×
 * steps, bulk-synchronous. Each step pushes this rank's gradient of the
 * summed loss (in buckets, overlapped with the backward pass) and pulls
 * the parameters the server's optimizer computed from all ranks' pushes.
 * A rank whose shard is shorter pushes empty steps (weight 0), so the
 * barrier never waits for a step that a short shard skipped.
 */
export class MinibatchProgram implements TrainingProgram {
  private params: TensorMap | null = null;
  private normalizer: Normalizer | null = null;

  private constructor(private readonly job: ProgramJob, private readonly replica: Replica) {}

  static async create(job: ProgramJob, createReplica: () => Promise<Replica>): Promise<MinibatchProgram> {
    return new MinibatchProgram(job, await createReplica());
  }

  private get training(): NonNullable<JobSpec['training']> {
    return this.job.spec.training!;
  }

  async run(ctx: ProgramContext): Promise<void> {
    const { spec } = this.job;
    const { ps, train } = ctx;
    this.normalizer = spec.data.normalize ? await standardize(ps, train, ctx.test) : null;
    const initial = this.replica.initialParams();
    await initParams(ps, initial, (key) => this.replica.ruleFor(key, this.training.optimizer));
    const pulled = await ps.pull([...initial.keys()], 0);
    let version = pulled.version;
    let params = float32Tensors(pulled.tensors, 'parameters');

    const order = Uint32Array.from({ length: train.rows }, (_, i) => i);
    const steps = stepsPerEpoch(ctx.trainShardRows, this.training.batchSize);
    const batchSize = this.training.batchSize;
    // A resumed attempt starts after the checkpoint's epoch; the server holds its parameters and optimizer slots.
    const first = ctx.resume?.round ?? 0;
    const shuffle = (epoch: number): void => {
      if (this.training.shuffle) shuffleInPlace(order, seededRandom(mixSeed(spec.seed, epoch, ctx.rank)));
    };
    // Each epoch shuffles the previous order: replaying the skipped ones gives an unchanged fleet the very order it would have had.
    for (let epoch = 0; epoch < first; epoch++) shuffle(epoch);
    for (let epoch = first; epoch < this.training.epochs; epoch++) {
      shuffle(epoch);
      const sums = emptySums();
      for (let s = 0; s < steps; s++) {
        if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');
        const started = process.hrtime.bigint();
        const batch = gather(train, order, s * batchSize, (s + 1) * batchSize);
        // Parts of the statistic (gradients of the last layers) leave while the backward pass goes on.
        const step = ps.beginStep(version, batch.rows);
        const stat = this.replica.localStep(batch, params, step);
        if (stat.weight !== batch.rows) throw new TfleetError('INTERNAL', `a step of ${batch.rows} rows reported weight ${stat.weight}`);
        for (const [key, t] of stat.tensors) step.add(key, t);
        const computed = process.hrtime.bigint();
        ({ version, tensors: params } = await step.finish());
        const ended = process.hrtime.bigint();
        ctx.metrics.step(Number(ended - started) / 1e9, stat.weight, Number(ended - computed) / 1e9);
        sums.count += stat.weight;
        sums.lossSum += stat.lossSum;
      }
      ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
      // The epoch's parameters, for evaluateNow inside the report.
      this.params = params;
      await ctx.progress(epoch, sums);
    }
    this.params = params;
  }

  evaluateNow(table: Table): Promise<MetricSums> {
    return this.evaluate(table);
  }

  async evaluate(table: Table): Promise<MetricSums> {
    return this.replica.evaluate(asBatch(table), this.trained());
  }

  async export(target: ExportTarget): Promise<void> {
    await this.replica.export(this.trained(), { ...target, info: this.job.info, normalizer: this.normalizer });
  }

  dispose(): void {
    this.replica.dispose();
  }

  /** Nothing of its own: the parameters, optimizer slots and feature moments are the server's keys. */
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }

  private trained(): TensorMap {
    if (!this.params) throw new TfleetError('FAILED_PRECONDITION', 'the program has not run');
    return this.params;
  }
}
