import { FileSource, OptimizerSpec } from '../config/job-spec';
import { HostTensor, TensorMap } from '../codec/host-tensor';
import { TaskKind } from '../data/dataset';
import { Normalizer } from '../data/moments';

/** What a family learns about the data before it builds a model. */
export interface DataInfo {
  numFeatures: number;
  featureNames: readonly string[];
  labelName: string;
  /** Shape of one sample ([cols] for tabular rows, [28, 28] for an image). */
  sampleShape: readonly number[];
  /** Smallest and largest feature value of the training rows (token ids must fit a vocabulary). */
  valueRange: [number, number];
  /** Sorted label values (classifiers), else null. */
  classes: number[] | null;
}

/** A mini-batch of rows, row-major; labels are class ids for classifiers. */
export interface Batch {
  rows: number;
  cols: number;
  x: Float32Array;
  y: Float32Array;
}

/**
 * One step's additive statistic of a shard: tensors whose sum over all
 * workers, divided by the summed weight, is the global statistic.
 */
export interface Statistic {
  tensors: TensorMap;
  /** Samples behind the statistic; the server's mean divides by the total. */
  weight: number;
  /** Sum of per-sample training loss over the batch. */
  lossSum: number;
}

/** Additive evaluation sums; the coordinator adds them across workers. */
export interface MetricSums {
  count: number;
  lossSum: number;
  correct: number;
  squaredError: number;
  absoluteError: number;
}

export function emptySums(): MetricSums {
  return { count: 0, lossSum: 0, correct: 0, squaredError: 0, absoluteError: 0 };
}

export function addSums(a: MetricSums, b: MetricSums): MetricSums {
  return {
    count: a.count + b.count,
    lossSum: a.lossSum + b.lossSum,
    correct: a.correct + b.correct,
    squaredError: a.squaredError + b.squaredError,
    absoluteError: a.absoluteError + b.absoluteError,
  };
}

/** Final metrics of a split: loss always; accuracy or rmse/mae by task. */
export function metricsFromSums(s: MetricSums, task: TaskKind): Record<string, number> {
  const n = Math.max(1, s.count);
  const out: Record<string, number> = { loss: s.lossSum / n, count: s.count };
  if (task === 'classifier') out.accuracy = s.correct / n;
  else {
    out.rmse = Math.sqrt(s.squaredError / n);
    out.mae = s.absoluteError / n;
  }
  return out;
}

/** How the parameter server turns one step's pushes into a key's new value. */
export type UpdateRuleSpec = { name: 'sum' } | { name: 'average' } | OptimizerSpec;

/** What a trained model is saved with, so that predictions can be made again. */
export interface ExportContext {
  dir: string;
  info: DataInfo;
  normalizer: Normalizer | null;
  /** How the training data was read; `tfleet predict` reads its input the same way. */
  source: FileSource;
}

/** Takes named parts of a step's statistic as they are computed. */
export interface StatisticSink {
  /** `t` is read, never written: the sink copies what it keeps past the step. */
  add(key: string, t: HostTensor): void;
}

/**
 * A family's model living on one worker: it turns parameters pulled from the
 * server and a batch into a statistic, evaluates, and exports.
 */
export interface Replica {
  /** Seeded initial parameters; every rank computes the same ones. */
  initialParams(): TensorMap;
  /**
   * The additive statistic of one batch at the given parameters. A replica
   * may hand parts of it to `early` while the step is still computing (a
   * gradient as soon as the backward pass has it), so they travel while the
   * rest is computed; those parts are left out of the returned statistic.
   * The weight is the batch's row count: early parts travel before it is returned.
   */
  localStep(batch: Batch, params: TensorMap, early?: StatisticSink): Statistic;
  /** Yields to the event loop between chunks, so a long evaluation does not starve heartbeats. */
  evaluate(batch: Batch, params: TensorMap): Promise<MetricSums>;
  export(params: TensorMap, ctx: ExportContext): Promise<void>;
  /** Frees tensors and native memory. */
  dispose(): void;
}

/**
 * A model family plugs in by implementing this. It speaks of statistics, not
 * of tfjs: trees, factorization, k-NN and naive Bayes push histograms, rows
 * and counts through the same parameter server.
 */
export interface ModelFamily<Spec = unknown> {
  readonly name: string;
  /** Whether a model of this spec predicts a class or a number. */
  taskOf(spec: Spec): TaskKind;
  /** @throws SpecError naming the `model.*` field. */
  parseSpec(model: Record<string, unknown>): Spec;
  /** @throws DataError when the data cannot train this model (e.g. 3 classes for logistic, images for an rnn with an embedding). */
  checkData(spec: Spec, info: DataInfo): void;
  /** Whether the model reads feature values as they are (token ids), so they must not be standardized. */
  readsRawValues?(spec: Spec): boolean;
  /** The server-side rule for a parameter key. */
  ruleFor(key: string, optimizer: OptimizerSpec): UpdateRuleSpec;
  createReplica(spec: Spec, info: DataInfo, seed: number): Promise<Replica>;
}
