import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { describe, expect, it } from 'vitest';
import { ADAM } from '../../../worker/backends/native/fused-adam';
import { BackendName, selectBackend } from '../../../worker/backends/select';
import { nativeAddon as addon } from '../../harness/backends';
import { random } from '../../harness/kernels';

const SHAPES = [[784, 256], [256], [33, 7], [1]];

/** Values, moments and kernels of `steps` tf.train.adam steps on fresh variables, gradients from a seed; checks no tensor leaked. */
async function adamSteps(backend: BackendName, steps: number, form: 'map' | 'list'): Promise<{ values: Float32Array[]; moments: Float32Array[]; kernels: string[] }> {
  await selectBackend(backend);
  const before = tf.memory().numTensors;
  const initial = SHAPES.map((s, i) => tf.tensor(random(tf.util.sizeFromShape(s), 10 + i), s));
  const vars = initial.map((t, i) => tf.variable(t, true, `adam-test-${backend}-${form}-${i}`));
  tf.dispose(initial);
  const optimizer = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
  const kernels = new Set<string>();
  for (let step = 0; step < steps; step++) {
    const grads = SHAPES.map((s, i) => tf.tensor(random(tf.util.sizeFromShape(s), 100 * step + i), s));
    const profile = await tf.profile(() => {
      optimizer.applyGradients(form === 'map'
        ? Object.fromEntries(vars.map((v, i) => [v.name, grads[i]]))
        : vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    });
    for (const k of profile.kernels) kernels.add(k.name);
    tf.dispose(grads);
  }
  const values = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  const weights = await optimizer.getWeights();
  const moments = await Promise.all(weights.slice(1).map(async (w) => (await w.tensor.data()) as Float32Array));
  expect(weights.slice(1).map((w) => w.name)).toEqual([...vars.map((v) => `${v.name}/m`), ...vars.map((v) => `${v.name}/v`)]);
  optimizer.dispose();
  tf.dispose([weights[0].tensor, ...vars]);
  expect(tf.memory().numTensors).toBe(before);
  return { values, moments, kernels: [...kernels] };
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe.skipIf(!addon.ok)("tfjs's Adam as one native kernel per variable", () => {
  for (const form of ['map', 'list'] as const) {
    it(`gives wasm's values and moments bit for bit over 5 steps (gradients as a ${form})`, async () => {
      const native = await adamSteps('native', 5, form);
      const wasm = await adamSteps('wasm', 5, form);
      expect(native.kernels).toContain(ADAM);
      expect(native.kernels).not.toContain('Sqrt');
      expect(wasm.kernels).toContain('Sqrt');
      native.values.forEach((v, i) => expect(bits(v)).toEqual(bits(wasm.values[i])));
      native.moments.forEach((m, i) => expect(bits(m)).toEqual(bits(wasm.moments[i])));
    });
  }

  it('skips a variable whose gradient is missing, as tfjs does', async () => {
    await selectBackend('native');
    const a = tf.variable(tf.ones([3]), true, 'adam-skip-a');
    const b = tf.variable(tf.ones([3]), true, 'adam-skip-b');
    const optimizer = tf.train.adam(0.1);
    const g = tf.ones([3]);
    optimizer.applyGradients({ [a.name]: g, [b.name]: null as unknown as tf.Tensor });
    expect(Array.from(await b.data())).toEqual([1, 1, 1]);
    expect(Array.from(await a.data()).every((x) => x < 1)).toBe(true);
    optimizer.dispose();
    tf.dispose([a, b, g]);
  });

  it('flushes subnormal moments to zero (where they would cost a hundred cycles per operation)', async () => {
    await selectBackend('native');
    const value = tf.ones([4]);
    const m = tf.tensor1d([2e-38, 1e-38, 1e-3, 0]);
    const v = tf.tensor1d([1e-6, 1e-6, 1e-6, 1e-6]);
    const gradient = tf.zeros([4]);
    const c1 = tf.scalar(0.1);
    const c2 = tf.scalar(0.001);
    const out = tf.engine().runKernel(ADAM, { value, m, v, gradient, c1, c2 }, { beta1: 0.5, beta2: 0.999, epsilon: 1e-7, learningRate: 0.01 }) as tf.Tensor[];
    const newM = Array.from(await out[1].data());
    // 2e-38 · 0.5 = 1e-38 is below float32's smallest normal (1.18e-38): flushed; a subnormal input reads as zero.
    expect(newM[0]).toBe(0);
    expect(newM[1]).toBe(0);
    expect(newM[2]).toBeCloseTo(5e-4, 9);
    tf.dispose([value, m, v, gradient, c1, c2, ...out]);
  });
});
