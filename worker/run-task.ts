import { Table } from '../shared/data';
import { Logger } from '../shared/log';
import { TfleetError } from '../shared/errors';
import { MetricSums, emptySums } from '../shared/metric-sums';
import { TaskPlan } from '../shared/program/task-plan';
import { validateJobJson } from '../shared/job';
import { checkReplaceable, replaceDir } from '../shared/atomic-dir';
import { MODEL_META } from '../shared/families/model-meta';
import { WorkerMetrics } from './metrics';
import { PsTraffic } from './ps/client';
import { WorkerPsHandle } from './ps/handle';
import { FetchShard, loadShards } from './shard-loader';

/** Seconds a round's steps spent computing and waiting for the parameter server, summed over the steps that told them apart. */
export interface RoundTiming {
  timedSteps: number;
  computeSeconds: number;
  waitSeconds: number;
}

export interface TaskContext {
  workerId: string;
  log: Logger;
  metrics: WorkerMetrics;
  /**
   * A round's training sums, its test-shard sums when the round is
   * evaluated, and its steps' timing; resolves (a barrier) with whether to
   * send a checkpoint part.
   */
  reportProgress(round: number, sums: MetricSums, test: MetricSums | null, timing: RoundTiming): Promise<boolean>;
  /** Sends this rank's part of the round's checkpoint (null: the program keeps none); resolves once it is saved. */
  saveCheckpoint(round: number, state: Uint8Array | null): Promise<void>;
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

/**
 * A task step that outlived its time limit. It cannot be stopped (a write
 * may hang in the kernel), so the worker reports the failure and keeps out
 * of the fleet until `settled`.
 */
export class WedgedTaskError extends TfleetError {
  constructor(message: string, readonly settled: Promise<unknown>) {
    super('INTERNAL', message);
  }
}

/** `work`, or a {@link WedgedTaskError} once `ms` have passed without it (0: no limit). */
export async function withinTime<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0)) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WedgedTaskError(`${what} did not finish within ${ms} ms`, work.catch(() => undefined))), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one rank of a job: loads its shards, runs the family's training
 * program over the parameter server, evaluates both splits and, on rank 0,
 * exports the model. Returns the evaluation sums of this rank's shards.
 *
 * @throws AbortedError when the job is cancelled or failed elsewhere.
 */
export async function runTask(plan: TaskPlan, ctx: TaskContext): Promise<TaskOutcome> {
  const job = validateJobJson(plan.specJson);
  const { spec } = job;
  const { train, test, via } = await loadShards(job, plan, ctx.fetchShard);
  ctx.log.info('shards loaded', { job: plan.jobId, via, trainRows: train.rows, testRows: test?.rows ?? 0 });
  const traffic: PsTraffic = {
    pushed: (b) => ctx.metrics.pushBytes.inc(b),
    pulled: (b) => ctx.metrics.pullBytes.inc(b),
  };
  const task = plan.info.classes ? 'classifier' : 'regressor';
  const program = await job.family.createProgram(job.modelSpec, { spec, modelSpec: job.modelSpec, info: plan.info, task });
  const ps = new WorkerPsHandle(plan.psAddress, plan.psJob, ctx.workerId, traffic, plan.tensorAddress);
  const every = spec.training?.evaluateEvery ?? 0;
  // The steps since the last report: the coordinator shows a worker's last round split into compute and wait.
  let timing: RoundTiming = { timedSteps: 0, computeSeconds: 0, waitSeconds: 0 };
  const progress = async (round: number, sums: MetricSums): Promise<void> => {
    const roundTiming = timing;
    timing = { timedSteps: 0, computeSeconds: 0, waitSeconds: 0 };
    // Every rank evaluates the same rounds (the spec is shared), a rank without test rows included.
    const evaluated = every > 0 && (round + 1) % every === 0 && program.evaluateNow !== undefined;
    const testSums = evaluated ? (test ? await program.evaluateNow!(test as Table) : emptySums()) : null;
    if (!(await ctx.reportProgress(round, sums, testSums, roundTiming))) return;
    await ctx.saveCheckpoint(round, program.snapshot ? await program.snapshot() : null);
  };
  if (plan.resume) ctx.log.info('resuming from a checkpoint', { job: plan.jobId, attempt: plan.attempt, round: plan.resume.round });
  const isModel = (entries: string[]): boolean => entries.includes(MODEL_META);
  try {
    // An output the export could not write fails the job now, not after training.
    // Within the export's time limit: a write that hangs in the kernel would otherwise hold the job.
    if (plan.rank === 0) await withinTime(checkReplaceable(spec.output!, plan.jobId, isModel), plan.finishTimeoutMs, 'the output check');
    await program.run({
      train, test, trainOffset: plan.train.begin, trainShardRows: plan.trainShardRows,
      rank: plan.rank, worldSize: plan.worldSize, seed: spec.seed, signal: ctx.signal, ps, log: ctx.log,
      metrics: {
        step: (seconds, samples, waitSeconds) => {
          ctx.metrics.stepSeconds.observe({ job_id: plan.jobId }, seconds);
          ctx.metrics.samples.inc({ job_id: plan.jobId }, samples);
          if (waitSeconds !== undefined) {
            const computeSeconds = Math.max(0, seconds - waitSeconds);
            ctx.metrics.waitSeconds.inc({ job_id: plan.jobId }, waitSeconds);
            ctx.metrics.computeSeconds.inc({ job_id: plan.jobId }, computeSeconds);
            timing.timedSteps++;
            timing.computeSeconds += computeSeconds;
            timing.waitSeconds += waitSeconds;
          }
        },
        loss: (value) => ctx.metrics.loss.set({ job_id: plan.jobId }, value),
        histogram: (cells, seconds) => {
          ctx.metrics.histogramCells.inc({ job_id: plan.jobId }, cells);
          ctx.metrics.histogramSeconds.inc({ job_id: plan.jobId }, seconds);
        },
      },
      progress, resume: plan.resume,
    });
    const finish = async (): Promise<TaskOutcome> => {
      const result: TaskOutcome = {
        train: await program.evaluate(train),
        test: test ? await program.evaluate(test as Table) : emptySums(),
        output: '',
      };
      if (plan.rank === 0) {
        // Never a half-written model: it is written beside `output`, then renamed into place.
        // An existing folder is replaced only when it is a model an earlier job wrote (it has tfleet-model.json).
        await replaceDir(spec.output!, plan.jobId, (dir) => program.export({ dir, source: spec.data.train }), isModel);
        result.output = spec.output!;
      }
      return result;
    };
    return await withinTime(finish(), plan.finishTimeoutMs, 'evaluation and export');
  } finally {
    program.dispose();
    await ps.close();
  }
}
