import { OptimizerSpec } from '../../config/job-spec';
import { HostTensor, TensorMap } from '../../codec/host-tensor';
import { Normalizer } from '../../data/moments';
import { MetricSums } from '../../metric-sums';
import { UpdateRuleSpec } from '../../ps/rules';
import { ExportTarget } from '../../program/types';
import { DataInfo } from '../types';

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

/** Takes named parts of a step's statistic as they are computed. */
export interface StatisticSink {
  /** `t` is read, never written: the sink copies what it keeps past the step. */
  add(key: string, t: HostTensor): void;
}

/** What a replica's export needs beyond the parameters. */
export interface ReplicaExport extends ExportTarget {
  info: DataInfo;
  normalizer: Normalizer | null;
}

/**
 * A gradient family's model on one rank, driven by the minibatch program:
 * it turns parameters pulled from the server and a batch into a statistic,
 * evaluates, and exports.
 */
export interface Replica {
  /** Seeded initial parameters; every rank computes the same ones. */
  initialParams(): TensorMap;
  /** The server-side rule for a parameter key. */
  ruleFor(key: string, optimizer: OptimizerSpec): UpdateRuleSpec;
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
  export(params: TensorMap, target: ReplicaExport): Promise<void>;
  /** Frees tensors and native memory. */
  dispose(): void;
}
