import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { describe, expect, it } from 'vitest';
import { CONV_BIAS_RELU, MATMUL_BIAS_RELU, RELU_GRAD_BIAS } from '../../../worker/backends/native/fused-ops';
import { BackendName, selectBackend } from '../../../worker/backends/select';
import { nativeAddon as addon } from '../../harness/backends';
import { random, relativeError } from '../../harness/kernels';

interface Layer {
  /** The layer's output, and the gradients of sum(output · weights) with respect to each input. */
  output: Float32Array;
  grads: Float32Array[];
  /** Kernels the forward and backward passes ran. */
  kernels: string[];
}

/** Runs `layer` forward and backward on a backend from plain arrays; checks it leaked no tensor. */
async function runLayer(backend: BackendName, shapes: number[][], seed: number, layer: (...xs: tf.Tensor[]) => tf.Tensor): Promise<Layer> {
  await selectBackend(backend);
  const before = tf.memory().numTensors;
  const inputs = shapes.map((s, i) => tf.tensor(random(tf.util.sizeFromShape(s), seed + i), s));
  let weights: tf.Tensor | null = null;
  const kernels: string[] = [];
  const profile = await tf.profile(() => {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const out = layer(...xs);
      weights ??= tf.keep(tf.tensor(random(out.size, seed + 99), out.shape));
      return tf.sum(tf.mul(out, weights));
    })(inputs);
    const output = layer(...inputs); // the same forward pass outside the tape: tfjs's inference path
    return [value, output, ...grads];
  });
  for (const k of profile.kernels) kernels.push(k.name);
  const [value, output, ...grads] = profile.result as tf.Tensor[];
  const result = { output: (await output.data()) as Float32Array, grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)), kernels };
  tf.dispose([value, output, ...grads, ...inputs, weights!]);
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

function expectClose(native: Layer, cpu: Layer): void {
  expect(relativeError(native.output, cpu.output)).toBeLessThan(1e-4);
  expect(native.grads.length).toBe(cpu.grads.length);
  native.grads.forEach((g, i) => expect(relativeError(g, cpu.grads[i])).toBeLessThan(1e-4));
}

const conv = (strides: number, pad: 'same' | 'valid') => (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor) =>
  tf.fused.conv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, strides, pad, activation: 'relu' });

const dense = (transposeA: boolean, transposeB: boolean) => (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
  tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, transposeA, transposeB, activation: 'relu' });

describe.skipIf(!addon.ok)('layers fused for training on native', () => {
  // [batch, height, width, inChannels, filter, outChannels, stride, pad]
  const convCases: Array<[number, number, number, number, number, number, number, 'same' | 'valid']> = [
    [2, 8, 8, 1, 3, 4, 1, 'valid'],
    [4, 13, 13, 32, 3, 64, 1, 'valid'],
    [3, 9, 7, 2, 3, 5, 2, 'same'],
    [4, 28, 28, 1, 3, 32, 1, 'valid'],
  ];
  for (const [n, h, w, c, f, o, s, pad] of convCases) {
    it(`conv2d + bias + relu, x [${n},${h},${w},${c}], ${f}×${f}→${o}, stride ${s}, ${pad}: one fused kernel each way, the values and gradients of tfjs's unfused ops on cpu`, async () => {
      const shapes = [[n, h, w, c], [f, f, c, o], [o]];
      const native = await runLayer('native', shapes, n * 7 + o, conv(s, pad));
      const cpu = await runLayer('cpu', shapes, n * 7 + o, conv(s, pad));
      expectClose(native, cpu);
      expect(native.kernels).toContain(CONV_BIAS_RELU);
      expect(native.kernels).toContain(RELU_GRAD_BIAS);
      // The unfused ops tfjs runs under a tape are gone: no bias add, ReLU, Step or bias Sum over the activations.
      for (const k of ['Relu', 'Step']) expect(native.kernels).not.toContain(k);
      expect(cpu.kernels).toContain('Relu');
    });
  }

  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    it(`matMul + bias + relu, transposeA ${ta}, transposeB ${tb}: the values and gradients of tfjs's fused matmul on cpu`, async () => {
      const [m, k, nOut] = [37, 50, 23];
      const shapes = [ta ? [k, m] : [m, k], tb ? [nOut, k] : [k, nOut], [nOut]];
      const native = await runLayer('native', shapes, 5 + (ta ? 1 : 0) + (tb ? 2 : 0), dense(ta, tb));
      const cpu = await runLayer('cpu', shapes, 5 + (ta ? 1 : 0) + (tb ? 2 : 0), dense(ta, tb));
      expectClose(native, cpu);
      expect(native.kernels).toContain(MATMUL_BIAS_RELU);
      expect(native.kernels).not.toContain('Step');
    });
  }

  it('leaves every other call to tfjs: other activations, no bias, inference', async () => {
    const withBias = [[2, 8, 8, 3], [3, 3, 3, 4], [4]];
    const cases: Array<[number[][], (x: tf.Tensor, f: tf.Tensor, b?: tf.Tensor) => tf.Tensor]> = [
      [withBias, (x, f, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, strides: 1, pad: 'same', activation: 'elu' })],
      [withBias.slice(0, 2), (x, f) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'same', activation: 'relu' })],
    ];
    for (const [shapes, layer] of cases) {
      const native = await runLayer('native', shapes, 3, layer);
      const cpu = await runLayer('cpu', shapes, 3, layer);
      expectClose(native, cpu);
      expect(native.kernels).not.toContain(CONV_BIAS_RELU);
    }
    // Outside a tape tfjs's own fused kernel runs.
    await selectBackend('native');
    const x = tf.ones([1, 5, 5, 1]) as tf.Tensor4D;
    const f = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
    const b = tf.ones([2]);
    const profile = await tf.profile(() => tf.fused.conv2d({ x, filter: f, bias: b, strides: 1, pad: 'valid', activation: 'relu' }));
    expect(profile.kernels.map((k) => k.name)).toContain('FusedConv2D');
    expect(profile.kernels.map((k) => k.name)).not.toContain(CONV_BIAS_RELU);
    tf.dispose([x, f, b, profile.result as tf.Tensor]);
  });

  it("the ReLU's gradient keeps NaN and the sign of dy · 0 as Step then Multiply do; the bias gradient sums every row", async () => {
    await selectBackend('native');
    const y = tf.tensor2d([[1, 0, NaN, 2], [0.5, -0, 3, NaN], [0, 4, 0, 1]]);
    const dy = tf.tensor2d([[2, -3, 1, Infinity], [-1, -2, 5, 1], [7, 1, -Infinity, -4]]);
    const [dx, db] = tf.engine().runKernel(RELU_GRAD_BIAS, { dy, y }, {}) as tf.Tensor[];
    const reference = tf.mul(dy, tf.step(y));
    const got = Array.from(await dx.data());
    const want = Array.from(await reference.data());
    expect(got.map((v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : v))).toEqual(want.map((v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : v)));
    const sums = Array.from(await db.data());
    expect(sums[0]).toBe(2 - 1 + 0);
    expect(sums[1]).toBe(-0 + -0 + 1);
    expect(Number.isNaN(sums[2])).toBe(true);
    expect(Number.isNaN(sums[3])).toBe(true);
    tf.dispose([y, dy, dx, db, reference]);
  });

  it('threads split the rows of a large gradient without changing it', async () => {
    const shapes = [[64, 26, 26, 32], [64, 26, 26, 32]];
    const run = async (threads: number) => {
      await selectBackend('native', { threads });
      const [dy, y] = shapes.map((s, i) => tf.tensor(random(tf.util.sizeFromShape(s), 40 + i), s));
      const activations = tf.relu(y);
      const [dx, db] = tf.engine().runKernel(RELU_GRAD_BIAS, { dy, y: activations }, {}) as tf.Tensor[];
      const out = { dx: (await dx.data()) as Float32Array, db: (await db.data()) as Float32Array };
      tf.dispose([dy, y, activations, dx, db]);
      return out;
    };
    const one = await run(1);
    const two = await run(2);
    expect(relativeError(two.dx, one.dx)).toBe(0);
    expect(relativeError(two.db, one.db)).toBeLessThan(1e-6);
    await selectBackend('native', { threads: 1 });
  });

  /** A ReLU conv layer, its first channel's bias far below zero (whole windows of zeros), then a max pool. */
  const convPool = (size: number, strides: number, pad: 'same' | 'valid') => (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor) => tf.tidy(() => {
    const shifted = tf.sub(bias, tf.tensor1d(Float32Array.from({ length: bias.shape[0] }, (_, i) => (i === 0 ? 10 : 0))));
    return tf.maxPool(conv(1, 'valid')(x, filter, shifted) as tf.Tensor4D, size, strides, pad);
  });
  // [batch, height, width, inChannels, outChannels, pool, stride, pad]: windows side by side, an odd size, overlapping windows, padding.
  const poolCases: Array<[number, number, number, number, number, number, number, 'same' | 'valid']> = [
    [4, 28, 28, 1, 8, 2, 2, 'valid'],
    [2, 13, 13, 4, 6, 2, 2, 'valid'],
    [2, 12, 12, 3, 5, 3, 2, 'valid'],
    [2, 11, 11, 2, 4, 2, 2, 'same'],
  ];
  for (const [n, h, w, c, o, size, stride, pad] of poolCases) {
    it(`a max pool ${size}×${size}, stride ${stride}, ${pad}, over a ReLU conv layer [${n},${h},${w},${c}]→${o} takes the ReLU's gradient into its own: the gradients of tfjs's ops on cpu`, async () => {
      const shapes = [[n, h, w, c], [3, 3, c, o], [o]];
      const native = await runLayer('native', shapes, n * 11 + o, convPool(size, stride, pad));
      const cpu = await runLayer('cpu', shapes, n * 11 + o, convPool(size, stride, pad));
      expectClose(native, cpu);
      expect(native.kernels).toContain('MaxPoolGrad');
      expect(native.kernels).not.toContain(RELU_GRAD_BIAS);
    });
  }

  it('a max pool over a reshape of a ReLU layer\'s output (other channels) gives the gradients of tfjs\'s ops on cpu', async () => {
    const layer = (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor) => tf.tidy(() => {
      const y = conv(1, 'valid')(x, filter, tf.sub(bias, 0.5)) as tf.Tensor4D; // [2, 8, 8, 4]
      return tf.maxPool(tf.reshape(y, [2, 8, 16, 2]) as tf.Tensor4D, 2, 2, 'valid');
    });
    const shapes = [[2, 10, 10, 3], [3, 3, 3, 4], [4]];
    const native = await runLayer('native', shapes, 91, layer);
    const cpu = await runLayer('cpu', shapes, 91, layer);
    expectClose(native, cpu);
  });

  it('a gradient taken with respect to a pooled ReLU output is the pool\'s own, not the ReLU\'s', async () => {
    const shapes = [[2, 9, 9, 2], [3, 3, 2, 3], [3]];
    const run = async (backend: BackendName) => {
      await selectBackend(backend);
      const [x, filter, bias] = shapes.map((s, i) => tf.tensor(random(tf.util.sizeFromShape(s), 70 + i), s));
      // The activations come from a tape of their own (a training step), as a model's output would.
      let activations: tf.Tensor4D | null = null;
      const step = tf.valueAndGrads((f: tf.Tensor) => {
        activations = tf.keep(conv(1, 'valid')(x, f, tf.sub(bias, 2)) as tf.Tensor4D);
        return tf.sum(activations);
      })([filter]);
      const dy = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(activations!);
      const out = (await dy.data()) as Float32Array;
      tf.dispose([x, filter, bias, activations!, dy, step.value, ...step.grads]);
      return out;
    };
    const native = await run('native');
    const cpu = await run('cpu');
    // Windows of zeros still route their gradient (to their first position): no ReLU's step was applied.
    expect(native.filter((v) => v !== 0).length).toBe(cpu.filter((v) => v !== 0).length);
    expect(Array.from(native)).toEqual(Array.from(cpu));
  });
});
