import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { OptimizerSpec } from '../../config/job-spec';
import { HostTensor, TensorMap } from '../../codec/host-tensor';
import { MetricSums, emptySums } from '../../metric-sums';
import { UpdateRuleSpec } from '../../ps/rules';
import { Batch, Replica, ReplicaExport, Statistic, StatisticSink } from '../minibatch/replica';
import { ModelMeta, baseMeta, writeModelMeta } from '../model-meta';
import { saveLayersModel } from '../tfjs-io';
import { DataInfo } from '../types';
import { installChainedOps } from './chained-ops';
import { GradientTaps } from './gradient-taps';
import { Head, headLoss, headScores } from './heads';

installChainedOps();

/** Rows evaluated per forward pass, to bound memory on large shards. */
const EVAL_CHUNK_ROWS = 1024;

/** Parameter key of the i-th trainable weight. */
export function weightKey(index: number): string {
  return `w${index}`;
}

/** Parameter key of the i-th non-trainable weight (batch-norm moving statistics). */
export function stateKey(index: number): string {
  return `s${index}`;
}

/** Whether a parameter key holds layer state, averaged across workers rather than optimized. */
export function isStateKey(key: string): boolean {
  return key.startsWith('s');
}

/** The optimizer for weights; batch-norm moving statistics are averaged across workers. */
export function layersRule(key: string, optimizer: OptimizerSpec): UpdateRuleSpec {
  return isStateKey(key) ? { name: 'average' } : optimizer;
}

export interface LayersReplicaOptions {
  family: string;
  head: Head;
  info: DataInfo;
  /** Builds the network: with logits to train (`serving` false), or with the head's activation to save. */
  build(serving: boolean): tfl.LayersModel | Promise<tfl.LayersModel>;
  /** L2 penalty on kernels (rank ≥ 2 trainable weights), per sample. */
  l2: number;
  /** The server rule of a key. @default the optimizer for weights, 'average' for layer state */
  ruleFor?(key: string, optimizer: OptimizerSpec): UpdateRuleSpec;
}

/**
 * Any tfjs layers network on one worker. Its statistic is the gradient of
 * the summed loss over the batch, so the server's sample-weighted mean is
 * the gradient of the mean loss over the global batch. Layer state that
 * training updates in place (batch-norm moving statistics) travels as
 * `s*` keys: each worker pushes its updated state times its rows and the
 * server keeps the weighted mean, so every replica evaluates alike.
 */
export class LayersReplica implements Replica {
  private readonly model: tfl.LayersModel;
  private readonly vars: tf.Variable[];
  private readonly taps: GradientTaps;
  private readonly inputShape: number[];

  /** Builds the training network and its replica. */
  static async create(opts: LayersReplicaOptions): Promise<LayersReplica> {
    return new LayersReplica(opts, await opts.build(false));
  }

  private constructor(private readonly opts: LayersReplicaOptions, model: tfl.LayersModel) {
    this.model = model;
    this.vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.taps = new GradientTaps(this.model.trainableWeights);
    this.inputShape = (this.model.inputs[0].shape as number[]).slice(1);
  }

  ruleFor(key: string, optimizer: OptimizerSpec): UpdateRuleSpec {
    return (this.opts.ruleFor ?? layersRule)(key, optimizer);
  }

  initialParams(): TensorMap {
    const out: TensorMap = new Map();
    this.model.trainableWeights.forEach((w, i) => out.set(weightKey(i), hostOf(w.read(), true)));
    this.model.nonTrainableWeights.forEach((w, i) => out.set(stateKey(i), hostOf(w.read(), true)));
    return out;
  }

  private load(params: TensorMap): void {
    writeWeights(this.model, params);
  }

  private input(batch: Batch, start: number, rows: number): tf.Tensor {
    return tf.tensor(batch.x.subarray(start * batch.cols, (start + rows) * batch.cols), [rows, ...this.inputShape], 'float32');
  }

  /** Summed loss over the rows, plus the L2 penalty scaled by the rows. */
  private lossSum(x: tf.Tensor, y: tf.Tensor1D, training: boolean): tf.Scalar {
    const output = this.model.apply(x, { training }) as tf.Tensor;
    let loss = headLoss(this.opts.head, output, y, this.opts.info.classes?.length ?? 1);
    const kernels = this.model.trainableWeights.filter((w) => w.shape.length >= 2);
    if (this.opts.l2 > 0 && training && kernels.length > 0) {
      // Read through the layer variables, so a gradient tap counts the penalty as a second use.
      const penalty = tf.addN(kernels.map((k) => tf.sum(tf.square(k.read()))));
      loss = tf.add(loss, tf.mul(penalty, 0.5 * this.opts.l2 * y.shape[0]));
    }
    return loss;
  }

  localStep(batch: Batch, params: TensorMap, early?: StatisticSink): Statistic {
    const tensors: TensorMap = new Map();
    if (batch.rows === 0) {
      for (const [k, p] of params) tensors.set(k, { shape: p.shape, data: new Float32Array(p.data.length) });
      return { tensors, weight: 0, lossSum: 0 };
    }
    this.load(params);
    if (early) this.taps.arm((i, grad) => early.add(weightKey(i), grad));
    let sent: readonly boolean[] = [];
    const { value, grads } = tf.tidy(() => {
      try {
        const x = this.input(batch, 0, batch.rows);
        const y = tf.tensor1d(batch.y);
        return tf.variableGrads(() => this.lossSum(x, y, true), this.vars);
      } finally {
        sent = this.taps.disarm();
      }
    });
    this.vars.forEach((v, i) => {
      if (!sent[i]) tensors.set(weightKey(i), hostOf(grads[v.name]));
    });
    // State after this batch, times its rows: the server's weighted mean averages it over workers.
    this.model.nonTrainableWeights.forEach((w, i) => {
      const state = hostOf(w.read(), true);
      for (let j = 0; j < state.data.length; j++) state.data[j] *= batch.rows;
      tensors.set(stateKey(i), state);
    });
    const lossSum = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { tensors, weight: batch.rows, lossSum };
  }

  async evaluate(batch: Batch, params: TensorMap): Promise<MetricSums> {
    this.load(params);
    const sums = emptySums();
    for (let start = 0; start < batch.rows; start += EVAL_CHUNK_ROWS) {
      // Seconds of forward passes on a large shard would otherwise hold off heartbeats until the lease expires.
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const rows = Math.min(EVAL_CHUNK_ROWS, batch.rows - start);
      const part = tf.tidy(() => {
        const x = this.input(batch, start, rows);
        const y = tf.tensor1d(batch.y.subarray(start, start + rows));
        const output = this.model.apply(x, { training: false }) as tf.Tensor;
        const loss = headLoss(this.opts.head, output, y, this.opts.info.classes?.length ?? 1);
        return [loss, ...headScores(this.opts.head, output, y)];
      });
      const [loss, a, b] = part.map((t) => t.dataSync()[0]);
      tf.dispose(part);
      sums.count += rows;
      sums.lossSum += loss;
      if (this.opts.head === 'squared') {
        sums.squaredError += a;
        sums.absoluteError += b;
      } else sums.correct += a;
    }
    return sums;
  }

  async export(params: TensorMap, target: ReplicaExport): Promise<void> {
    const serving = await this.opts.build(true);
    try {
      writeWeights(serving, params);
      await saveLayersModel(serving, target.dir);
    } finally {
      serving.dispose();
    }
    const meta: LayersMeta = { ...baseMeta(this.opts.family, target.info, target.source, target.normalizer), head: this.opts.head };
    await writeModelMeta(target.dir, meta);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * The replica of a classifier network that ends in one unit per class:
 * `build(output)` makes it with logits to train and with softmax to save.
 */
export function softmaxClassifierReplica(
  family: string,
  info: DataInfo,
  l2: number,
  build: (output: 'linear' | 'softmax') => tfl.LayersModel,
): Promise<LayersReplica> {
  return LayersReplica.create({ family, head: 'softmax', info, l2, build: (serving) => build(serving ? 'softmax' : 'linear') });
}

/** Sets a network's weights from parameters keyed by {@link weightKey} and {@link stateKey}. */
function writeWeights(model: tfl.LayersModel, params: TensorMap): void {
  const write = (w: tfl.LayerVariable, key: string): void => {
    const p = params.get(key);
    if (!p) throw new Error(`parameter '${key}' missing from the pulled set`);
    const t = tf.tensor(p.data, p.shape as number[], 'float32');
    w.write(t);
    t.dispose();
  };
  model.trainableWeights.forEach((w, i) => write(w, weightKey(i)));
  model.nonTrainableWeights.forEach((w, i) => write(w, stateKey(i)));
}

/** What `tfleet-model.json` holds for a tfjs network: the common fields and its output head. */
export interface LayersMeta extends ModelMeta {
  head: Head;
}

/** A tensor's values on the host; `copy` when the caller will modify them (cpu hands out its own storage). */
function hostOf(t: tf.Tensor, copy = false): HostTensor {
  const data = t.dataSync() as Float32Array;
  return { shape: t.shape, data: copy ? Float32Array.from(data) : data };
}
