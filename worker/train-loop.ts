import { tfleet } from '../proto/generated/tfleet';
import { TensorMap, hostTensor } from '../shared/codec/host-tensor';
import { Table, applyNormalizer, featureMoments, normalizerFromMoments, Normalizer } from '../shared/data';
import { AbortedError, TfleetError } from '../shared/errors';
import { Batch, MetricSums, Replica, UpdateRuleSpec, emptySums } from '../shared/families/types';
import { validateJob } from '../shared/job';
import { Logger } from '../shared/log';
import { mixSeed, seededRandom, shuffleInPlace } from '../shared/random';
import { WorkerMetrics } from './metrics';
import { PsClient, PsTraffic } from './ps-client';
import { FetchShard, loadShards } from './shard-loader';
import { PsExchange } from './step-exchange';

/** Key of the feature-moment statistic summed across shards. */
export const MOMENTS_KEY = 'norm/moments';

export interface TaskContext {
  workerId: string;
  log: Logger;
  metrics: WorkerMetrics;
  /** Sends one epoch's training sums to the coordinator. */
  reportEpoch(epoch: number, sums: MetricSums): Promise<void>;
  /** Streams a shard from the coordinator, for workers that cannot read the data files. */
  fetchShard: FetchShard;
  /** Set when the coordinator cancels the job. */
  signal: AbortSignal;
}

export interface TaskOutcome {
  train: MetricSums;
  test: MetricSums;
  output: string;
}

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

/** Sums every worker's feature moments on the server and standardizes this shard with the result. */
async function standardize(ps: PsClient, train: Table, test: Table | null): Promise<Normalizer> {
  const moments = featureMoments(train);
  await ps.init(new Map([[MOMENTS_KEY, hostTensor([moments.length])]]), { name: 'sum' });
  const { tensors } = await ps.pushPull(0, train.rows, new Map([[MOMENTS_KEY, hostTensor([moments.length], moments)]]));
  const norm = normalizerFromMoments(tensors.get(MOMENTS_KEY)!.data, train.cols);
  applyNormalizer(train, norm);
  if (test) applyNormalizer(test, norm);
  return norm;
}

/** Initializes every parameter key with its family's rule (first init wins across ranks). */
async function initParams(ps: PsClient, params: TensorMap, ruleFor: (key: string) => UpdateRuleSpec): Promise<void> {
  const groups = new Map<string, { rule: UpdateRuleSpec; tensors: TensorMap }>();
  for (const [key, t] of params) {
    const rule = ruleFor(key);
    const id = JSON.stringify(rule);
    if (!groups.has(id)) groups.set(id, { rule, tensors: new Map() });
    groups.get(id)!.tensors.set(key, t);
  }
  for (const g of groups.values()) await ps.init(g.tensors, g.rule);
}

/**
 * Runs one rank of a job, bulk-synchronously: every step pushes this
 * shard's statistic and pulls the parameters the server computed from all
 * ranks' pushes. Returns the final evaluation sums of this rank's shards.
 *
 * @throws AbortedError when the job is cancelled or failed elsewhere.
 */
export async function runTask(task: tfleet.coordinator.ITask, ctx: TaskContext): Promise<TaskOutcome> {
  const jobId = task.jobId!;
  const job = validateJob(JSON.parse(task.specJson!));
  const { spec } = job;
  const { train, test, info, via } = await loadShards(job, task, ctx.fetchShard);
  ctx.log.info('shards loaded', { job: jobId, via, trainRows: train.rows, testRows: test?.rows ?? 0 });
  const traffic: PsTraffic = {
    pushed: (b) => ctx.metrics.pushBytes.inc(b),
    pulled: (b) => ctx.metrics.pullBytes.inc(b),
  };
  const ps = new PsClient(task.psAddress!, jobId, ctx.workerId, traffic);
  const exchange = new PsExchange(task.psAddress!, jobId, ctx.workerId, traffic);
  let replica: Replica | null = null;
  try {
    const normalizer = spec.data.normalize ? await standardize(ps, train, test) : null;
    replica = await job.family.createReplica(job.modelSpec, info, spec.seed);
    const initial = replica.initialParams();
    await initParams(ps, initial, (key) => job.family.ruleFor(key, spec.training.optimizer));
    let { version, tensors: params } = await ps.pull([...initial.keys()], 0);

    const order = Uint32Array.from({ length: train.rows }, (_, i) => i);
    const steps = task.stepsPerEpoch ?? 1;
    const batchSize = spec.training.batchSize;
    for (let epoch = 0; epoch < spec.training.epochs; epoch++) {
      if (spec.training.shuffle) shuffleInPlace(order, seededRandom(mixSeed(spec.seed, epoch, task.rank ?? 0)));
      const sums = emptySums();
      for (let s = 0; s < steps; s++) {
        if (ctx.signal.aborted) throw new AbortedError(`job '${jobId}' was cancelled`);
        const timer = ctx.metrics.stepSeconds.startTimer({ job: jobId });
        const batch = gather(train, order, s * batchSize, (s + 1) * batchSize);
        // Parts of the statistic (gradients of the last layers) leave while the backward pass goes on.
        const step = exchange.begin(version, batch.rows);
        const stat = replica.localStep(batch, params, step);
        if (stat.weight !== batch.rows) throw new TfleetError('INTERNAL', `a step of ${batch.rows} rows reported weight ${stat.weight}`);
        for (const [key, t] of stat.tensors) step.add(key, t);
        ({ version, tensors: params } = await step.finish());
        timer();
        ctx.metrics.samples.inc({ job: jobId }, stat.weight);
        sums.count += stat.weight;
        sums.lossSum += stat.lossSum;
      }
      ctx.metrics.loss.set({ job: jobId }, sums.lossSum / Math.max(1, sums.count));
      await ctx.reportEpoch(epoch, sums);
    }
    const result: TaskOutcome = {
      train: await replica.evaluate(asBatch(train), params),
      test: test ? await replica.evaluate(asBatch(test), params) : emptySums(),
      output: '',
    };
    if ((task.rank ?? 0) === 0) {
      await replica.export(params, { dir: spec.output!, info, normalizer, source: spec.data.train });
      result.output = spec.output!;
    }
    return result;
  } finally {
    replica?.dispose();
    ps.close();
    await exchange.close();
  }
}
