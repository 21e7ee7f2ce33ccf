import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostTensor, TensorMap } from '../../codec/host-tensor';
import { saveLayersModel } from '../tfjs-io';
import { Batch, DataInfo, ExportContext, MetricSums, Replica, Statistic, emptySums } from '../types';
import { buildDenseModel, servingActivation } from './model';
import { DenseSpec } from './spec';

/** Rows evaluated per forward pass, to bound memory on large shards. */
const EVAL_CHUNK_ROWS = 4096;

/** Parameter keys: one per trainable weight, in the model's order. */
export function paramKey(index: number): string {
  return `w${index}`;
}

/** Metadata saved beside the tfjs model so a prediction can standardize and decode. */
export const MODEL_META = 'tfleet-model.json';

/**
 * A dense tfjs network on one worker. Its statistic is the gradient of the
 * summed loss over the batch, so that the server's sample-weighted mean is
 * the gradient of the mean loss over the global batch.
 */
export class DenseReplica implements Replica {
  private readonly model: tfl.Sequential;
  private readonly vars: tf.Variable[];

  constructor(
    private readonly spec: DenseSpec,
    private readonly info: DataInfo,
    private readonly seed: number,
  ) {
    this.model = buildDenseModel(spec, info, seed, 'linear');
    this.vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  initialParams(): TensorMap {
    const out: TensorMap = new Map();
    this.vars.forEach((v, i) => out.set(paramKey(i), { shape: v.shape, data: v.dataSync() as Float32Array }));
    return out;
  }

  private load(params: TensorMap): void {
    this.model.trainableWeights.forEach((w, i) => {
      const p = params.get(paramKey(i));
      if (!p) throw new Error(`parameter '${paramKey(i)}' missing from the pulled set`);
      const t = tf.tensor(p.data, p.shape as number[], 'float32');
      w.write(t);
      t.dispose();
    });
  }

  /** Summed loss over the batch, plus the L2 penalty scaled by the batch's rows. */
  private lossSum(x: tf.Tensor2D, y: tf.Tensor1D, rows: number, training: boolean): tf.Scalar {
    const logits = this.model.apply(x, { training }) as tf.Tensor2D;
    let loss: tf.Scalar;
    if (this.spec.family === 'linear') {
      loss = tf.sum(tf.squaredDifference(tf.reshape(logits, [rows]), y));
    } else if (this.spec.family === 'logistic') {
      loss = tf.losses.sigmoidCrossEntropy(tf.reshape(y, [rows, 1]), logits, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
    } else {
      const onehot = tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, this.info.classes!.length);
      loss = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
    }
    if (this.spec.l2 > 0 && training) {
      const kernels = this.vars.filter((v) => v.rank === 2);
      const penalty = tf.addN(kernels.map((k) => tf.sum(tf.square(k))));
      loss = tf.add(loss, tf.mul(penalty, (0.5 * this.spec.l2 * rows)));
    }
    return loss;
  }

  localStep(batch: Batch, params: TensorMap): Statistic {
    if (batch.rows === 0) {
      const tensors: TensorMap = new Map();
      for (const [k, p] of params) tensors.set(k, { shape: p.shape, data: new Float32Array(p.data.length) });
      return { tensors, weight: 0, lossSum: 0 };
    }
    this.load(params);
    const { value, grads } = tf.tidy(() => {
      const x = tf.tensor2d(batch.x, [batch.rows, batch.cols]);
      const y = tf.tensor1d(batch.y);
      return tf.variableGrads(() => this.lossSum(x, y, batch.rows, true), this.vars);
    });
    const tensors: TensorMap = new Map();
    this.vars.forEach((v, i) => {
      const g = grads[v.name];
      tensors.set(paramKey(i), { shape: g.shape, data: g.dataSync() as Float32Array });
    });
    const lossSum = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { tensors, weight: batch.rows, lossSum };
  }

  evaluate(batch: Batch, params: TensorMap): MetricSums {
    this.load(params);
    const sums = emptySums();
    for (let start = 0; start < batch.rows; start += EVAL_CHUNK_ROWS) {
      const rows = Math.min(EVAL_CHUNK_ROWS, batch.rows - start);
      const part = tf.tidy(() => {
        const x = tf.tensor2d(batch.x.subarray(start * batch.cols, (start + rows) * batch.cols), [rows, batch.cols]);
        const y = tf.tensor1d(batch.y.subarray(start, start + rows));
        const logits = this.model.apply(x, { training: false }) as tf.Tensor2D;
        const loss = this.lossSum(x, y, rows, false);
        if (this.spec.family === 'linear') {
          const err = tf.sub(tf.reshape(logits, [rows]), y);
          return [loss, tf.sum(tf.square(err)), tf.sum(tf.abs(err))];
        }
        const predicted = this.spec.family === 'logistic'
          ? tf.cast(tf.greater(tf.reshape(logits, [rows]), 0), 'float32')
          : tf.cast(tf.argMax(logits, 1), 'float32');
        return [loss, tf.sum(tf.cast(tf.equal(predicted, y), 'float32'))];
      });
      const [loss, a, b] = part.map((t) => t.dataSync()[0]);
      tf.dispose(part);
      sums.count += rows;
      sums.lossSum += loss;
      if (this.spec.family === 'linear') {
        sums.squaredError += a;
        sums.absoluteError += b;
      } else sums.correct += a;
    }
    return sums;
  }

  async export(params: TensorMap, ctx: ExportContext): Promise<void> {
    const serving = buildDenseModel(this.spec, this.info, this.seed, servingActivation(this.spec));
    try {
      serving.setWeights(serving.trainableWeights.map((_, i) => toTensor(params.get(paramKey(i))!)));
      await saveLayersModel(serving, ctx.dir);
    } finally {
      serving.dispose();
    }
    const meta = {
      family: this.spec.family,
      features: this.info.featureNames,
      label: this.info.labelName,
      classes: this.info.classes,
      normalizer: ctx.normalizer,
    };
    await writeFile(join(ctx.dir, MODEL_META), JSON.stringify(meta, null, 2));
  }

  dispose(): void {
    this.model.dispose();
  }
}

function toTensor(p: HostTensor): tf.Tensor {
  return tf.tensor(p.data, p.shape as number[], 'float32');
}
