import { FileSource, JobSpec } from '../config/job-spec';
import { Table } from '../data/table';
import { TaskKind } from '../data/dataset';
import { DataInfo } from '../families/types';
import { Logger } from '../log';
import { MetricSums } from '../metric-sums';
import { PsHandle } from '../ps/handle';
import { ResumePoint } from './task-plan';

/** What a family's program is created from: the validated job and its data description. */
export interface ProgramJob {
  spec: JobSpec;
  /** The family's own parsed `model` section. */
  modelSpec: unknown;
  info: DataInfo;
  task: TaskKind;
}

/** Observations a program makes for the worker's Prometheus metrics. */
export interface ProgramMetrics {
  /** One step or round took `seconds` over `samples` rows, `waitSeconds` of them waiting on the parameter server (when the program can tell). */
  step(seconds: number, samples: number, waitSeconds?: number): void;
  /** Mean training loss of the latest epoch or round. */
  loss(value: number): void;
  /** Histograms built (trees): `cells` rows × features added in `seconds`. */
  histogram(cells: number, seconds: number): void;
}

/**
 * What a training program runs with on one rank (Ray Train's context): its
 * shards, its place in the job, the parameter server and the job's signals.
 */
export interface ProgramContext {
  /** This rank's training rows (row `i` is global row `trainOffset + i`). */
  train: Table;
  /** This rank's test rows, when the job has a test set. */
  test: Table | null;
  /** Global id of `train`'s row 0: seeded per-row choices use global ids so they do not depend on the sharding. */
  trainOffset: number;
  /** Training rows of every rank, by rank. */
  trainShardRows: readonly number[];
  rank: number;
  worldSize: number;
  seed: number;
  /** Aborted when the job is cancelled or failed elsewhere; a program stops within one step or round. */
  signal: AbortSignal;
  ps: PsHandle;
  log: Logger;
  metrics: ProgramMetrics;
  /**
   * Reports a finished epoch, boosting round or tree (counted from 0) with
   * its training sums. A barrier: it resolves once every rank reported the
   * round, after the checkpoint of the round (the server's keys and each
   * rank's {@link TrainingProgram.snapshot}) is saved when one is due. Call
   * it with no push in flight: a checkpoint is taken while it waits.
   */
  progress(round: number, sums: MetricSums): Promise<void>;
  /**
   * Set when this attempt resumes from a checkpoint: start at `round`; the
   * parameter server already holds the keys as they were (their inits keep
   * them), and `states` are the ranks' snapshots by the saving attempt's ranks.
   */
  resume: ResumePoint | null;
}

/** Where and how rank 0 saves the trained model. */
export interface ExportTarget {
  dir: string;
  /** How the training data was read; `tfleet predict` reads its input the same way. */
  source: FileSource;
}

/**
 * A family's training loop on one rank. The worker creates it, runs it,
 * evaluates both splits with what it learnt, exports on rank 0 and disposes.
 *
 * @example
 * const program = await family.createProgram(modelSpec, job);
 * try {
 *   await program.run(ctx);
 *   const sums = await program.evaluate(ctx.train);
 *   if (ctx.rank === 0) await program.export({ dir, source });
 * } finally { program.dispose(); }
 */
export interface TrainingProgram {
  /** Trains; every rank of the job runs it at once over the same parameter-server keys. @throws AbortedError when cancelled. */
  run(ctx: ProgramContext): Promise<void>;
  /** Additive metric sums of the trained model on a table; yields to the event loop between chunks. */
  evaluate(table: Table): Promise<MetricSums>;
  /**
   * Metric sums of the model as it stands at a round's end, called inside
   * {@link ProgramContext.progress} (for `training.evaluateEvery`). A
   * program without it is evaluated once, after training.
   */
  evaluateNow?(table: Table): Promise<MetricSums>;
  /** Writes what the family's predictor loads (with `tfleet-model.json`). */
  export(target: ExportTarget): Promise<void>;
  /** Frees tensors and native memory. */
  dispose(): void;
  /**
   * This rank's part of a checkpoint, taken inside {@link ProgramContext.progress}
   * at the end of a round: what `run` needs, beside the parameter server's
   * keys, to resume after that round on any number of ranks. A program
   * without it (or answering null) restarts from scratch after a loss.
   */
  snapshot?(): Uint8Array | null | Promise<Uint8Array | null>;
}
