import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { seededRandom } from '../../shared/random';
import { BackendName, selectBackend } from '../../worker/backends/select';

export interface Operand {
  values: Float32Array | Int32Array;
  shape: number[];
}

/** Runs one kernel on a backend from plain arrays and returns its output values; checks it leaked no tensor. */
export async function runOn(backend: BackendName, kernel: string, inputs: Record<string, Operand>, attrs: object): Promise<{ shape: number[]; values: Float32Array }> {
  await selectBackend(backend);
  const before = tf.memory().numTensors;
  const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape, v.values instanceof Int32Array ? 'int32' : 'float32')]));
  const out = tf.engine().runKernel(kernel, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { shape: out.shape, values: (await out.data()) as Float32Array };
  tf.dispose([out, ...Object.values(tensors)]);
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

/** Values uniform in [−1, 1), the same for the same seed. */
export function random(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

/** ‖a − b‖ / ‖b‖. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
