import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorMap } from '../../../shared/codec/host-tensor';
import { familyNames, getFamily } from '../../../shared/families';
import { isGradientFamily } from '../../../shared/families/minibatch/gradient-family';
import { Batch, Replica } from '../../../shared/families/minibatch/replica';
import { DataInfo } from '../../../shared/families/types';
import { seededRandom } from '../../../shared/random';
import { selectBackend } from '../../../worker/backends/select';
import { BACKENDS_UNDER_TEST } from '../../harness/backends';

/** A small fixed batch: 24 rows, 4 features, 3 classes (2 for logistic, numeric for linear). */
function fixedBatch(family: string): Batch {
  const rand = seededRandom(11);
  const rows = 24;
  const cols = 4;
  const x = Float32Array.from({ length: rows * cols }, () => rand() * 2 - 1);
  const classes = family === 'logistic' ? 2 : 3;
  const y = Float32Array.from({ length: rows }, (_, r) => {
    const score = x[r * cols] + 0.5 * x[r * cols + 1];
    return family === 'linear' ? 3 * score + 1 : Math.min(classes - 1, Math.floor(((score + 1.5) / 3) * classes));
  });
  return { rows, cols, x, y };
}

function half(b: Batch, from: number, to: number): Batch {
  return { rows: to - from, cols: b.cols, x: b.x.slice(from * b.cols, to * b.cols), y: b.y.slice(from, to) };
}

const info = (family: string): DataInfo => ({
  numFeatures: 4, featureNames: ['a', 'b', 'c', 'd'], sampleShape: family === 'cnn' ? [2, 2] : [4], valueRange: [-1, 1], labelName: 'y',
  classes: family === 'linear' ? null : family === 'logistic' ? [0, 1] : [0, 1, 2], missingValues: 0, trainRows: 100,
});

/** A small keras topology, as `model.toJSON()` writes it: 4 → 8 relu → 3 softmax. */
function kerasTopology(): object {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
  const json = model.toJSON(null, false);
  model.dispose();
  return json as object;
}

const MODEL_SPECS: Record<string, () => Record<string, unknown>> = {
  mlp: () => ({ family: 'mlp', hidden: [8], dropout: 0 }),
  cnn: () => ({ family: 'cnn', layers: [{ type: 'conv2d', filters: 3, kernelSize: 2, padding: 'same' }, { type: 'maxPool2d' }, { type: 'dense', units: 6 }] }),
  rnn: () => ({ family: 'rnn', cell: 'gru', hidden: [5] }),
  // Dropout (0.1 by default) would draw different masks for the whole batch and its halves.
  transformer: () => ({ family: 'transformer', layers: 1, dim: 8, heads: 2, ffDim: 8, dropout: 0 }),
  keras: () => ({ family: 'keras', topology: kerasTopology() }),
};
const modelSpec = (family: string): Record<string, unknown> => MODEL_SPECS[family]?.() ?? { family };
/** Families whose initial weights come from a topology without seeds: the first rank's init wins on the server. */
const UNSEEDED = ['keras'];
/** Families built on tfjs layers, whose gradients can leave during the backward pass. */
const NETWORKS = ['mlp', 'cnn', 'rnn', 'transformer', 'keras'];

function sgdStep(params: TensorMap, grads: TensorMap, weight: number, lr: number): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, p] of params) {
    const g = grads.get(k)!.data;
    out.set(k, { shape: p.shape, data: p.data.map((v, i) => v - (lr * g[i]) / weight) });
  }
  return out;
}

for (const backend of BACKENDS_UNDER_TEST) {
  const gradientNames = familyNames().filter((n) => isGradientFamily(getFamily(n)));
  describe.each(gradientNames)(`replica of family %s on ${backend}`, (name) => {
    let replica: Replica;
    const family = getFamily(name);
    if (!isGradientFamily(family)) throw new Error(`${name} is not a gradient family`);
    beforeAll(async () => {
      await selectBackend(backend);
      replica = await family.createReplica(family.parseSpec(modelSpec(name)), info(name), 3);
    });
    afterAll(() => replica.dispose());

    it.skipIf(UNSEEDED.includes(name))('builds the same initial parameters from the same seed', async () => {
      const again = await family.createReplica(family.parseSpec(modelSpec(name)), info(name), 3);
      const a = replica.initialParams();
      const b = again.initialParams();
      again.dispose();
      for (const [k, t] of a) expect([...b.get(k)!.data]).toEqual([...t.data]);
    });

    it('gives statistics of two half-shards that sum to the whole', () => {
      const batch = fixedBatch(name);
      const params = replica.initialParams();
      const whole = replica.localStep(batch, params);
      const left = replica.localStep(half(batch, 0, 10), params);
      const right = replica.localStep(half(batch, 10, 24), params);
      expect(left.weight + right.weight).toBe(whole.weight);
      expect(left.lossSum + right.lossSum).toBeCloseTo(whole.lossSum, 4);
      for (const [k, t] of whole.tensors) {
        const sum = left.tensors.get(k)!.data.map((v, i) => v + right.tensors.get(k)!.data[i]);
        for (let i = 0; i < t.data.length; i++) expect(sum[i]).toBeCloseTo(t.data[i], 4);
      }
    });

    it('splits its statistic between an early sink and the returned one without changing a value', () => {
      const batch = fixedBatch(name);
      const params = replica.initialParams();
      const plain = replica.localStep(batch, params);
      const early: TensorMap = new Map();
      const split = replica.localStep(batch, params, { add: (k, t) => { expect(early.has(k)).toBe(false); early.set(k, t); } });
      expect(split.weight).toBe(plain.weight);
      expect(split.lossSum).toBe(plain.lossSum);
      for (const k of split.tensors.keys()) expect(early.has(k)).toBe(false);
      expect(new Set([...early.keys(), ...split.tensors.keys()])).toEqual(new Set(plain.tensors.keys()));
      for (const [k, t] of plain.tensors) expect([...(early.get(k) ?? split.tensors.get(k)!).data]).toEqual([...t.data]);
      // Every network has a weight read once per pass (the output layer), so its gradient leaves early.
      if (NETWORKS.includes(name)) expect(early.size).toBeGreaterThan(0);
    });

    it('improves its objective with one step along the statistic', async () => {
      const batch = fixedBatch(name);
      const params = replica.initialParams();
      const before = await replica.evaluate(batch, params);
      const stat = replica.localStep(batch, params);
      const after = await replica.evaluate(batch, sgdStep(params, stat.tensors, stat.weight, 0.1));
      expect(after.lossSum).toBeLessThan(before.lossSum);
    });

    it('yields to the event loop while it evaluates a large shard (heartbeats must go on)', async () => {
      const small = fixedBatch(name);
      const copies = 100;
      const big: Batch = {
        rows: small.rows * copies, cols: small.cols,
        x: new Float32Array(small.x.length * copies).map((_, i) => small.x[i % small.x.length]),
        y: new Float32Array(small.y.length * copies).map((_, i) => small.y[i % small.y.length]),
      };
      let yielded = false;
      setImmediate(() => (yielded = true));
      const sums = await replica.evaluate(big, replica.initialParams());
      expect(sums.count).toBe(big.rows);
      expect(yielded).toBe(true);
    });

    it('leaks no tensors in a step or an evaluation', async () => {
      const batch = fixedBatch(name);
      const params = replica.initialParams();
      replica.localStep(batch, params);
      const count = tf.memory().numTensors;
      replica.localStep(batch, params);
      await replica.evaluate(batch, params);
      replica.localStep({ rows: 0, cols: 4, x: new Float32Array(0), y: new Float32Array(0) }, params);
      expect(tf.memory().numTensors).toBe(count);
    });
  });
}
