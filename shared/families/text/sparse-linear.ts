import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OptimizerSpec } from '../../config/job-spec';
import { TensorMap, hostTensor } from '../../codec/host-tensor';
import { DataError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { UpdateRuleSpec } from '../../ps/rules';
import { Batch, Replica, ReplicaExport, Statistic } from '../minibatch/replica';
import { baseMeta, writeModelMeta } from '../model-meta';

/** The loss of a linear model over sparse rows: the SVM's hinges, or the logistic and softmax cross-entropies. */
export type LinearLoss = 'hinge' | 'squared-hinge' | 'logistic' | 'softmax';

/** The weights file of a sparse linear model, and its description. */
export const LINEAR_FILE = 'linear.json';
const WEIGHTS_FILE = 'linear.bin';

/**
 * A linear model over bag-of-words rows as `bagRows` lays them out (ids,
 * then weights): scores s = Σ_j w_j · W[id_j] + b, never a dense batch ×
 * vocabulary matrix. Binary SVMs and logistic regression have one output;
 * more classes take one output per class (the SVM one-vs-rest, softmax
 * jointly).
 */
export class SparseLinear {
  /**
   * @param layout 'bag': rows of ids then weights (`bagRows`); 'dense': plain numeric rows
   *   (feature j has weight row j).
   */
  constructor(readonly loss: LinearLoss, readonly features: number, readonly outputs: number, readonly layout: 'bag' | 'dense' = 'bag') {}

  static for(loss: LinearLoss, features: number, classes: number, layout: 'bag' | 'dense' = 'bag'): SparseLinear {
    return new SparseLinear(loss, features, classes === 2 && loss !== 'softmax' ? 1 : classes, layout);
  }

  /** Scores of row r of a batch into `out` (length outputs). */
  scores(batch: Batch, r: number, w: Float32Array, b: Float32Array, out: Float64Array): void {
    const at = r * batch.cols;
    const O = this.outputs;
    for (let k = 0; k < O; k++) out[k] = b[k];
    if (this.layout === 'dense') {
      for (let j = 0; j < batch.cols; j++) {
        const v = batch.x[at + j];
        for (let k = 0; k < O; k++) out[k] += v * w[j * O + k];
      }
      return;
    }
    const width = batch.cols / 2;
    for (let j = 0; j < width; j++) {
      const id = batch.x[at + j];
      if (id < 0) break;
      const v = batch.x[at + width + j];
      const row = id * O;
      for (let k = 0; k < O; k++) out[k] += v * w[row + k];
    }
  }

  /** The predicted class of scores. */
  label(s: Float64Array): number {
    if (this.outputs === 1) return s[0] > 0 ? 1 : 0;
    let best = 0;
    for (let k = 1; k < this.outputs; k++) if (s[k] > s[best]) best = k;
    return best;
  }

  /** The row's loss; writes its gradient with respect to the scores into `ds`. */
  lossAndGradient(s: Float64Array, label: number, ds: Float64Array): number {
    const O = this.outputs;
    if (this.loss === 'softmax') {
      let max = -Infinity;
      for (let k = 0; k < O; k++) max = Math.max(max, s[k]);
      let sum = 0;
      for (let k = 0; k < O; k++) sum += Math.exp(s[k] - max);
      for (let k = 0; k < O; k++) ds[k] = Math.exp(s[k] - max) / sum - (k === label ? 1 : 0);
      return -(s[label] - max - Math.log(sum));
    }
    if (this.loss === 'logistic') {
      const p = 1 / (1 + Math.exp(-s[0]));
      ds[0] = p - label;
      return -Math.log(Math.max(1e-15, label === 1 ? p : 1 - p));
    }
    let loss = 0;
    for (let k = 0; k < O; k++) {
      const y = (O === 1 ? label === 1 : label === k) ? 1 : -1;
      const slack = 1 - y * s[k];
      if (slack <= 0) { ds[k] = 0; continue; }
      if (this.loss === 'hinge') { loss += slack; ds[k] = -y; }
      else { loss += slack * slack; ds[k] = -2 * y * slack; }
    }
    return loss;
  }
}

/**
 * The minibatch program's replica of a {@link SparseLinear} model, in typed
 * arrays: each step pushes the gradient of the batch's summed loss plus
 * the L2 term times its rows (so the server's mean carries `l2`·W once).
 */
export class SparseLinearReplica implements Replica {
  constructor(private readonly model: SparseLinear, private readonly l2: number, private readonly classes: number[], private readonly family: string) {}

  initialParams(): TensorMap {
    return new Map([['w', hostTensor([this.model.features, this.model.outputs])], ['b', hostTensor([this.model.outputs])]]);
  }

  ruleFor(_key: string, optimizer: OptimizerSpec): UpdateRuleSpec {
    return optimizer;
  }

  localStep(batch: Batch, params: TensorMap): Statistic {
    const { model } = this;
    const w = params.get('w')!.data;
    const b = params.get('b')!.data;
    const O = model.outputs;
    const gw = new Float32Array(w.length);
    const gb = new Float32Array(O);
    const s = new Float64Array(O);
    const ds = new Float64Array(O);
    const width = batch.cols / 2;
    let lossSum = 0;
    for (let r = 0; r < batch.rows; r++) {
      model.scores(batch, r, w, b, s);
      lossSum += model.lossAndGradient(s, batch.y[r], ds);
      for (let k = 0; k < O; k++) gb[k] += ds[k];
      const at = r * batch.cols;
      if (model.layout === 'dense') {
        for (let j = 0; j < batch.cols; j++) for (let k = 0; k < O; k++) gw[j * O + k] += batch.x[at + j] * ds[k];
        continue;
      }
      for (let j = 0; j < width; j++) {
        const id = batch.x[at + j];
        if (id < 0) break;
        const v = batch.x[at + width + j];
        for (let k = 0; k < O; k++) gw[id * O + k] += v * ds[k];
      }
    }
    if (this.l2 > 0 && batch.rows > 0) for (let i = 0; i < w.length; i++) gw[i] += this.l2 * batch.rows * w[i];
    return { tensors: new Map([['w', { shape: [model.features, O], data: gw }], ['b', { shape: [O], data: gb }]]), weight: batch.rows, lossSum };
  }

  async evaluate(batch: Batch, params: TensorMap): Promise<MetricSums> {
    return evaluateLinear(this.model, batch, params.get('w')!.data, params.get('b')!.data);
  }

  async export(params: TensorMap, target: ReplicaExport): Promise<void> {
    await mkdir(target.dir, { recursive: true });
    const w = params.get('w')!.data;
    const b = params.get('b')!.data;
    await writeFile(join(target.dir, WEIGHTS_FILE), Buffer.concat([Buffer.from(w.buffer, w.byteOffset, w.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)]));
    await writeFile(join(target.dir, LINEAR_FILE), JSON.stringify({ format: 'tfleet-linear/1', loss: this.model.loss, layout: this.model.layout, features: this.model.features, outputs: this.model.outputs, classes: this.classes }));
    await writeModelMeta(target.dir, baseMeta(this.family, target.info, target.source, null));
  }

  dispose(): void {
    // Typed arrays only.
  }
}

export async function evaluateLinear(model: SparseLinear, batch: Batch, w: Float32Array, b: Float32Array): Promise<MetricSums> {
  const sums = emptySums();
  const s = new Float64Array(model.outputs);
  const ds = new Float64Array(model.outputs);
  for (let r = 0; r < batch.rows; r++) {
    if (r > 0 && r % 1024 === 0) await new Promise((resolve) => setImmediate(resolve));
    model.scores(batch, r, w, b, s);
    sums.count++;
    sums.lossSum += model.lossAndGradient(s, batch.y[r], ds);
    if (model.label(s) === batch.y[r]) sums.correct++;
  }
  return sums;
}

/** A saved sparse linear model. @throws DataError naming the folder. */
export async function readSparseLinear(dir: string): Promise<{ model: SparseLinear; w: Float32Array; b: Float32Array; classes: number[] }> {
  let json: { format: string; loss: LinearLoss; layout: 'bag' | 'dense'; features: number; outputs: number; classes: number[] };
  let bin: Buffer;
  try {
    json = JSON.parse(await readFile(join(dir, LINEAR_FILE), 'utf8'));
    bin = await readFile(join(dir, WEIGHTS_FILE));
  } catch (err) {
    throw new DataError(`${dir}: cannot read ${LINEAR_FILE} and ${WEIGHTS_FILE} (${(err as Error).message})`, { cause: err });
  }
  if (json.format !== 'tfleet-linear/1' || !(json.features >= 1) || !(json.outputs >= 1) || bin.length !== 4 * (json.features * json.outputs + json.outputs)) {
    throw new DataError(`${dir}/${LINEAR_FILE}: damaged (format, sizes or weights do not match)`);
  }
  const all = new Float32Array(new Uint8Array(bin).buffer);
  const n = json.features * json.outputs;
  return { model: new SparseLinear(json.loss, json.features, json.outputs, json.layout === 'dense' ? 'dense' : 'bag'), w: all.subarray(0, n), b: all.subarray(n), classes: json.classes };
}
