import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLayersModel, saveLayersModel } from '../../../shared/families/tfjs-io';
import { MultiHeadSelfAttention } from '../../../shared/families/transformer/attention';
import { getFamily } from '../../../shared/families';
import { buildTransformer, transformerInputShape } from '../../../shared/families/transformer/model';
import { parseTransformerSpec } from '../../../shared/families/transformer/spec';
import { DataInfo } from '../../../shared/families/types';
import { seededRandom } from '../../../shared/random';
import { selectBackend } from '../../../worker/backends/select';

const BATCH = 3;
const STEPS = 5;
const DIM = 8;
const HEADS = 2;
/** Index of the key bias among the gradients (after the input and the query kernel, bias and the key kernel). */
const KEY_BIAS = 4;

function values(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** Sample 0 attends to all 5 steps, sample 1 to the first 3, sample 2 to the first 1. */
const MASK = Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0]);

/** A built attention layer with the given weights (random ones on the first call). */
function attentionLayer(opts: { dropout?: number; weights?: Float32Array[] } = {}): MultiHeadSelfAttention {
  const layer = new MultiHeadSelfAttention({ heads: HEADS, dropout: opts.dropout ?? 0, seed: 1 });
  layer.apply([tfl.input({ shape: [STEPS, DIM] }), tfl.input({ shape: [STEPS] })]);
  if (opts.weights) {
    const ts = layer.weights.map((w, i) => tf.tensor(opts.weights![i], w.shape as number[]));
    layer.setWeights(ts);
    tf.dispose(ts);
  } else {
    // Non-zero biases, so their gradients are tested too.
    const ts = layer.weights.map((w, i) => tf.tensor(values(w.shape.reduce((a, b) => a! * b!, 1)!, 100 + i), w.shape as number[]));
    layer.setWeights(ts);
    tf.dispose(ts);
  }
  return layer;
}

/** Gradients of a fixed projection of the layer's output, w.r.t. its input and each weight, with the weights. */
function gradients(layer: MultiHeadSelfAttention, masked: boolean): { grads: Float32Array[]; weights: Float32Array[] } {
  // tidy keeps the variable (variables are never tracked) and frees its initial value.
  const x = tf.tidy(() => tf.variable(tf.tensor(values(BATCH * STEPS * DIM, 7), [BATCH, STEPS, DIM]), true, `attention_x_${tf.getBackend()}_${masked}`));
  const r = tf.tensor(values(BATCH * STEPS * DIM, 8), [BATCH, STEPS, DIM]);
  const mask = tf.tensor(MASK, [BATCH, STEPS]);
  const vars = [x, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.call(masked ? [x, mask] : x, { training: true }), r)) as tf.Scalar, vars);
  const out = vars.map((v) => grads[v.name].dataSync() as Float32Array);
  const weights = layer.weights.map((w) => w.read().dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads), x, r, mask]);
  return { grads: out, weights };
}

function norm(a: Float32Array): number {
  return Math.sqrt(a.reduce((s, v) => s + v * v, 0));
}

function relativeError(a: Float32Array, b: Float32Array): number {
  return norm(a.map((v, i) => v - b[i])) / Math.max(norm(b), 1e-30);
}

const tokenInfo: DataInfo = {
  numFeatures: 6, featureNames: [], sampleShape: [6], valueRange: [0, 9], labelName: 'y', classes: [0, 1, 2], missingValues: 0,
};
const imageInfo: DataInfo = { ...tokenInfo, numFeatures: 12, sampleShape: [4, 3], valueRange: [-1, 1] };
const TOKENS = Float32Array.from([3, 5, 9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0]);

describe('MultiHeadSelfAttention', () => {
  it.each([['with a padding mask', true], ['without a mask', false]])('has the gradients of cpu on wasm, w.r.t. its input and every weight (%s)', async (_, masked) => {
    await selectBackend('cpu');
    const before = tf.memory().numTensors;
    const cpuLayer = attentionLayer();
    const cpu = gradients(cpuLayer, masked);
    cpuLayer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await selectBackend('wasm');
    const wasmLayer = attentionLayer({ weights: cpu.weights });
    const wasm = gradients(wasmLayer, masked);
    wasmLayer.dispose();
    // Input, then query, key, value and output kernels and biases.
    expect(cpu.grads).toHaveLength(9);
    const total = Math.sqrt(cpu.grads.reduce((s, g) => s + norm(g) ** 2, 0));
    cpu.grads.forEach((g, i) => {
      if (i === KEY_BIAS) {
        // A key bias adds q·b to every key's score of a query, which softmax ignores: its gradient is 0, computed as rounding noise.
        expect(norm(g) / total).toBeLessThan(1e-6);
        expect(norm(wasm.grads[i]) / total).toBeLessThan(1e-6);
        return;
      }
      expect(norm(g), `gradient ${i}`).toBeGreaterThan(0);
      expect(relativeError(wasm.grads[i], g), `gradient ${i}`).toBeLessThan(1e-4);
    });
    await selectBackend('cpu');
  });

  it('gives a masked key exactly zero weight, so its values change no other step', async () => {
    await selectBackend('cpu');
    const layer = attentionLayer({ dropout: 0.5 });
    const x = tf.tensor(values(BATCH * STEPS * DIM, 7), [BATCH, STEPS, DIM]);
    const mask = tf.tensor(MASK, [BATCH, STEPS]);
    const weights = layer.attentionWeights(x, mask);
    expect(weights.shape).toEqual([BATCH, HEADS, STEPS, STEPS]);
    const w = weights.arraySync();
    for (let b = 0; b < BATCH; b++) {
      for (let h = 0; h < HEADS; h++) {
        for (let q = 0; q < STEPS; q++) {
          const row = w[b][h][q];
          row.forEach((v, k) => (MASK[b * STEPS + k] === 0 ? expect(v).toBe(0) : expect(v).toBeGreaterThan(0)));
          expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
        }
      }
    }
    // Other values at the padded steps: the unpadded steps' outputs stay as they were.
    const noise = tf.mul(tf.tensor(values(BATCH * STEPS * DIM, 9), [BATCH, STEPS, DIM]), tf.sub(1, tf.expandDims(mask, 2)));
    const moved = tf.add(x, tf.mul(noise, 100));
    const a = (layer.apply([x, mask]) as tf.Tensor).arraySync() as number[][][];
    const b = (layer.apply([moved, mask]) as tf.Tensor).arraySync() as number[][][];
    for (let s = 0; s < BATCH; s++) for (let t = 0; t < STEPS; t++) if (MASK[s * STEPS + t] === 1) expect(b[s][t]).toEqual(a[s][t]);
    tf.dispose([x, mask, weights, noise, moved]);
    layer.dispose();
  });

  it('drops attention weights in a training pass through a model, and only then', async () => {
    await selectBackend('cpu');
    const input = tfl.input({ shape: [STEPS, DIM] });
    const model = tfl.model({ inputs: input, outputs: new MultiHeadSelfAttention({ heads: HEADS, dropout: 0.5, seed: 1 }).apply(input) as tfl.SymbolicTensor });
    const x = tf.tensor(values(BATCH * STEPS * DIM, 7), [BATCH, STEPS, DIM]);
    const [a, b, c, d] = [true, true, false, false].map((training) => model.apply(x, { training }) as tf.Tensor);
    expect([...a.dataSync()]).not.toEqual([...b.dataSync()]);
    expect([...c.dataSync()]).toEqual([...d.dataSync()]);
    tf.dispose([x, a, b, c, d]);
    model.dispose();
  });

  it.each([
    ['token ids with mean pooling', { embedding: {}, pooling: 'mean' }, tokenInfo, TOKENS, [6]],
    ['numeric sequences with first-step pooling', { pooling: 'first', dim: 8, heads: 2, ffDim: 16 }, imageInfo, values(3 * 12, 4), [4, 3]],
  ] as const)('saves and reloads a transformer (%s) that predicts the same', async (_, fields, info, data, shape) => {
    await selectBackend('cpu');
    const spec = parseTransformerSpec({ family: 'transformer', layers: 2, dim: 16, ...fields });
    const model = buildTransformer(spec, info, 3, 'softmax');
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-transformer-'));
    await saveLayersModel(model, dir);
    const loaded = await loadLayersModel(dir);
    const x = tf.tensor(data, [3, ...shape]);
    const before = model.predict(x) as tf.Tensor;
    const after = loaded.predict(x) as tf.Tensor;
    expect(after.shape).toEqual([3, 3]);
    expect([...after.dataSync()]).toEqual([...before.dataSync()]);
    expect(loaded.layers.map((l) => l.getClassName())).toContain('MultiHeadSelfAttention');
    tf.dispose([x, before, after]);
    model.dispose();
    loaded.dispose();
  });

  it('predicts from token ids alone: what the pad id embeds to changes nothing', async () => {
    await selectBackend('cpu');
    const spec = parseTransformerSpec({ family: 'transformer', layers: 1, dim: 8, heads: 2, ffDim: 8, embedding: {} });
    const model = buildTransformer(spec, tokenInfo, 3, 'softmax');
    const x = tf.tensor(TOKENS, [3, 6]);
    const before = model.predict(x) as tf.Tensor;
    const embedding = model.getLayer('embedding');
    const table = embedding.getWeights()[0];
    const padRow = tf.concat([tf.mul(tf.ones([1, 8]), 50), tf.slice(table, [1, 0], [-1, -1])]);
    embedding.setWeights([padRow]);
    const after = model.predict(x) as tf.Tensor;
    const a = before.dataSync();
    const b = after.dataSync();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 6);
    tf.dispose([x, before, after, padRow]);
    model.dispose();
  });
});

describe('family transformer', () => {
  const family = getFamily('transformer');

  it('fills in its defaults and refuses heads that do not divide dim, naming the field', () => {
    expect(family.parseSpec({ family: 'transformer' })).toEqual({
      family: 'transformer', layers: 2, heads: 4, dim: 64, ffDim: 128, dropout: 0.1, pooling: 'mean', embedding: null, l2: 0,
    });
    expect(parseTransformerSpec({ family: 'transformer', dim: 32, embedding: {} }).embedding).toEqual({ vocabulary: null, dim: 32 });
    expect(() => family.parseSpec({ family: 'transformer', dim: 30, heads: 4 })).toThrow("job spec: 'model.heads' must divide model.dim (30) into heads of equal size, got 4");
    expect(() => family.parseSpec({ family: 'transformer', layers: [{ type: 'dense' }] })).toThrow("job spec: 'model.layers' must be an integer ≥ 1 and ≤ 64");
    expect(() => family.parseSpec({ family: 'transformer', cell: 'lstm' })).toThrow("job spec: 'model.cell' is not a field of family 'transformer'");
  });

  it('reads token ids with an embedding (vocabulary from the data unless given), and numeric steps without', () => {
    const tokens = parseTransformerSpec({ family: 'transformer', embedding: {} });
    expect(transformerInputShape(tokens, tokenInfo)).toEqual([6]);
    expect(() => family.checkData(parseTransformerSpec({ family: 'transformer', embedding: { vocabulary: 5 } }), tokenInfo))
      .toThrow('token ids range over [0, 9] but model.embedding.vocabulary is 5: ids must be in [0, 4]');
    expect(() => family.checkData(tokens, { ...tokenInfo, valueRange: [-1, 9] })).toThrow('token ids must be ≥ 0 (0 pads a sequence), got ids down to -1');
    expect(() => family.checkData(tokens, imageInfo)).toThrow("family 'transformer' with an embedding needs token sequences (samples of shape [length]), got [4, 3]");
    const numeric = parseTransformerSpec({ family: 'transformer' });
    expect(transformerInputShape(numeric, imageInfo)).toEqual([4, 3]);
    expect(transformerInputShape(numeric, tokenInfo)).toEqual([6, 1]);
    expect(() => family.checkData(numeric, { ...imageInfo, sampleShape: [2, 2, 3] })).toThrow("family 'transformer' needs sequences (samples of shape [steps] or [steps, features]), got [2, 2, 3]");
  });

  it('embeds the token rows of a text source without an embedding field', async () => {
    await selectBackend('cpu');
    const model = buildTransformer(parseTransformerSpec({ family: 'transformer', layers: 1, dim: 8, heads: 2 }), { ...tokenInfo, text: { field: 'text' } }, 3, 'softmax');
    expect(model.getLayer('embedding').getConfig()).toMatchObject({ inputDim: 10, outputDim: 8 });
    expect(model.layers.map((l) => l.getClassName())).toContain('PaddingMask');
    model.dispose();
  });
});
