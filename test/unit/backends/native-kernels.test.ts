import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { describe, expect, it } from 'vitest';
import { NATIVE_KERNEL_NAMES } from '../../../worker/backends/native/register';
import { selectBackend } from '../../../worker/backends/select';
import { nativeAddon as addon } from '../../harness/backends';
import { Operand, random, relativeError, runOn } from '../../harness/kernels';

/** The kernel on native and on cpu (the reference), same inputs: relative error under 1e-4. */
async function matchesCpu(kernel: string, inputs: Record<string, Operand>, attrs: object): Promise<number[]> {
  const cpu = await runOn('cpu', kernel, inputs, attrs);
  const native = await runOn('native', kernel, inputs, attrs);
  expect(native.shape).toEqual(cpu.shape);
  expect(relativeError(native.values, cpu.values)).toBeLessThan(1e-4);
  return native.shape;
}

/** Primitives the addon built: a case that grows it ran on oneDNN, not on the wasm fallback. */
const primitives = (): number => (addon.ok ? addon.addon.cachedPrimitives() : 0);

type Pad = 'same' | 'valid' | number;

/**
 * The gradient of tfjs's average pool, which divides each window by the
 * positions inside the input. (cpu's AvgPoolGrad divides by the whole window
 * even where it hangs over the padding, which is not the gradient of its
 * forward pass; the two agree without padding.)
 */
function avgPoolGradient(info: tf.backend_util.Conv2DInfo, dy: Float32Array): Float32Array {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const dx = new Float32Array(N * H * W * C);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const r0 = Math.max(0, oy * sh - top), r1 = Math.min(H, oy * sh - top + FH);
        const c0 = Math.max(0, ox * sw - left), c1 = Math.min(W, ox * sw - left + FW);
        const count = (r1 - r0) * (c1 - c0);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            for (let ch = 0; ch < C; ch++) dx[((n * H + r) * W + c) * C + ch] += dy[((n * OH + oy) * OW + ox) * C + ch] / count;
          }
        }
      }
    }
  }
  return dx;
}
// [batch, height, width, inChannels, filter, outChannels, stride, pad, dilation]
const convCases: Array<[number, number, number, number, number, number, number, Pad, number]> = [
  [1, 5, 5, 1, 3, 1, 1, 'valid', 1],
  [2, 8, 8, 3, 3, 4, 1, 'same', 1],
  [4, 28, 28, 1, 3, 32, 1, 'valid', 1],
  [64, 13, 13, 32, 3, 64, 1, 'valid', 1],
  [3, 9, 7, 2, 3, 5, 2, 'same', 1],
  [3, 9, 7, 2, 3, 5, 2, 'valid', 1],
  [2, 10, 10, 4, 5, 6, 3, 'valid', 1],
  [2, 11, 11, 3, 2, 2, 2, 'same', 1],
  [5, 6, 6, 2, 1, 3, 1, 'valid', 1],
  [2, 7, 7, 3, 3, 4, 1, 1, 1],
  [2, 12, 10, 3, 4, 2, 2, 2, 1],
  [2, 12, 12, 3, 3, 4, 1, 'same', 2],
  [1, 15, 13, 2, 3, 3, 1, 'valid', 3],
];

describe.skipIf(!addon.ok)('native (oneDNN) kernels', () => {
  it('are the native backend\'s, over the wasm backend\'s heap', async () => {
    const selected = await selectBackend('native', { threads: 1 });
    expect(selected.name).toBe('native');
    expect(selected.reason).toMatch(/oneDNN \d+\.\d+\.\d+, OpenMP, 1 thread\)/);
    expect(tf.getBackend()).toBe('native');
    expect(tf.backend()).toBe(tf.engine().findBackend('wasm'));
    for (const name of NATIVE_KERNEL_NAMES) expect(tf.getKernel(name, 'native')).toBeDefined();
  });

  it.each(convCases)('Conv2D: x [%i, %i, %i, %i], filter %i, %i out, stride %i, pad %s, dilation %i', async (n, h, w, ci, f, co, s, pad, d) => {
    const before = primitives();
    await matchesCpu('Conv2D', {
      x: { values: random(n * h * w * ci, h * 7 + ci), shape: [n, h, w, ci] },
      filter: { values: random(f * f * ci * co, co), shape: [f, f, ci, co] },
    }, { strides: [s, s], pad, dataFormat: 'NHWC', dilations: [d, d] });
    expect(primitives()).toBeGreaterThan(before);
  });

  const gradCases = convCases.filter((c) => c[8] === 1);
  it.each(gradCases)('Conv2DBackpropInput: dx [%i, %i, %i, %i], filter %i, %i out, stride %i, pad %s', async (n, h, w, ci, f, co, s, pad) => {
    const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], [f, f, ci, co], s, 1, pad);
    const before = primitives();
    await matchesCpu('Conv2DBackpropInput', {
      dy: { values: random(n * info.outHeight * info.outWidth * co, 3), shape: [n, info.outHeight, info.outWidth, co] },
      filter: { values: random(f * f * ci * co, 4), shape: [f, f, ci, co] },
    }, { strides: [s, s], pad, dataFormat: 'NHWC', inputShape: [n, h, w, ci] });
    expect(primitives()).toBeGreaterThan(before);
  });

  it.each(gradCases)('Conv2DBackpropFilter: x [%i, %i, %i, %i], filter %i, %i out, stride %i, pad %s', async (n, h, w, ci, f, co, s, pad) => {
    const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], [f, f, ci, co], s, 1, pad);
    await matchesCpu('Conv2DBackpropFilter', {
      x: { values: random(n * h * w * ci, 5), shape: [n, h, w, ci] },
      dy: { values: random(n * info.outHeight * info.outWidth * co, 6), shape: [n, info.outHeight, info.outWidth, co] },
    }, { strides: [s, s], pad, dataFormat: 'NHWC', filterShape: [f, f, ci, co] });
  });

  it.each(['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'])('FusedConv2D with a bias and %s', async (activation) => {
    const inputs: Record<string, Operand> = {
      x: { values: random(2 * 9 * 9 * 3, 7), shape: [2, 9, 9, 3] },
      filter: { values: random(3 * 3 * 3 * 8, 8), shape: [3, 3, 3, 8] },
      bias: { values: random(8, 9), shape: [8] },
    };
    // PReLU's weights are a tensor oneDNN has no post-op for: the wasm kernel takes it.
    if (activation === 'prelu') inputs.preluActivationWeights = { values: random(8, 10), shape: [8] };
    await matchesCpu('FusedConv2D', inputs, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation, leakyreluAlpha: 0.1 });
  });

  it('keeps primitives apart by their activation\'s alpha', async () => {
    const x = { values: random(2 * 7 * 7 * 3, 30), shape: [2, 7, 7, 3] };
    const filter = { values: random(3 * 3 * 3 * 4, 31), shape: [3, 3, 3, 4] };
    const a = { values: random(6 * 5, 32), shape: [6, 5] };
    const b = { values: random(5 * 4, 33), shape: [5, 4] };
    for (const leakyreluAlpha of [0.1, 0.3]) {
      await matchesCpu('FusedConv2D', { x, filter }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'leakyrelu', leakyreluAlpha });
      await matchesCpu('_FusedMatMul', { a, b }, { transposeA: false, transposeB: false, activation: 'leakyrelu', leakyreluAlpha });
    }
  });

  // [a shape, b shape, transposeA, transposeB]
  const matmulCases: Array<[number[], number[], boolean, boolean]> = [
    [[1, 64, 784], [1, 784, 256], false, false],
    [[1, 64, 784], [1, 64, 256], true, false],
    [[1, 64, 256], [1, 784, 256], false, true],
    [[1, 10, 64], [1, 128, 10], true, true],
    [[3, 5, 7], [3, 7, 4], false, false],
    [[3, 5, 7], [1, 7, 4], false, false],
    [[1, 5, 7], [6, 4, 7], false, true],
    [[2, 3, 5, 7], [2, 3, 7, 4], false, false],
    [[33, 1], [1, 17], false, false],
  ];
  it.each(matmulCases)('BatchMatMul: a %j · b %j, transposeA %s, transposeB %s', async (as, bs, transposeA, transposeB) => {
    await matchesCpu('BatchMatMul', {
      a: { values: random(tf.util.sizeFromShape(as), 11), shape: as },
      b: { values: random(tf.util.sizeFromShape(bs), 12), shape: bs },
    }, { transposeA, transposeB });
  });

  it.each([
    ['relu', [16]], ['linear', [1, 16]], ['sigmoid', [16]], ['elu', [16]], ['relu6', [16]], ['leakyrelu', [16]],
  ] as Array<[string, number[]]>)('_FusedMatMul with %s and a bias of shape %j', async (activation, biasShape) => {
    await matchesCpu('_FusedMatMul', {
      a: { values: random(2 * 8 * 32, 13), shape: [2, 8, 32] },
      b: { values: random(32 * 16, 14), shape: [1, 32, 16] },
      bias: { values: random(tf.util.sizeFromShape(biasShape), 15), shape: biasShape },
    }, { transposeA: false, transposeB: false, activation, leakyreluAlpha: 0.3 });
  });

  // [x shape, filter, stride, pad]
  const poolCases: Array<[number[], number, number, Pad]> = [
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[64, 26, 26, 32], 2, 2, 'valid'],
    [[2, 9, 9, 3], 2, 2, 'valid'],
    [[2, 9, 7, 4], 3, 2, 'same'],
    [[3, 10, 10, 2], 3, 1, 'same'],
    [[1, 7, 7, 5], 3, 3, 1],
  ];
  for (const kernel of ['MaxPool', 'AvgPool']) {
    it.each(poolCases)(`${kernel}: x %j, filter %i, stride %i, pad %s`, async (shape, f, s, pad) => {
      await matchesCpu(kernel, { x: { values: random(tf.util.sizeFromShape(shape), 16), shape } }, { filterSize: [f, f], strides: [s, s], pad });
    });
  }

  it.each(poolCases)('MaxPoolGrad: x %j, filter %i, stride %i, pad %s, with ties (a ReLU before the pool)', async (shape, f, s, pad) => {
    // Half the inputs are 0, as after a ReLU: windows of equal maxima route dy to the first, as cpu does.
    const x = random(tf.util.sizeFromShape(shape), 17).map((v) => Math.max(0, v));
    const attrs = { filterSize: [f, f], strides: [s, s], pad };
    await selectBackend('cpu');
    const y = tf.engine().runKernel('MaxPool', { x: tf.tensor(x, shape) }, attrs) as tf.Tensor;
    const output = { values: (await y.data()) as Float32Array, shape: y.shape };
    tf.dispose(y);
    await matchesCpu('MaxPoolGrad', {
      dy: { values: random(tf.util.sizeFromShape(output.shape), 18), shape: output.shape },
      input: { values: x, shape },
      output,
    }, attrs);
  });

  it.each(poolCases)('AvgPoolGrad: x %j, filter %i, stride %i, pad %s', async (shape, f, s, pad) => {
    const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], [f, f], [s, s], 1, pad);
    const dy = random(tf.util.sizeFromShape(info.outShape), 19);
    const inputs = { dy: { values: dy, shape: info.outShape }, input: { values: random(tf.util.sizeFromShape(shape), 20), shape } };
    const native = await runOn('native', 'AvgPoolGrad', inputs, { filterSize: [f, f], strides: [s, s], pad });
    expect(relativeError(native.values, avgPoolGradient(info, dy))).toBeLessThan(1e-5);
  });

  // [a shape, b shape]: same shape, scalars either side, a bias along the last axes, and a full broadcast (the wasm kernel's).
  const binaryCases: Array<[number[], number[]]> = [
    [[64, 26, 26, 32], [64, 26, 26, 32]],
    [[5, 7], []],
    [[1], [5, 7]],
    [[64, 13, 13, 32], [32]],
    [[3], [4, 5, 3]],
    [[4, 6], [1, 6]],
    [[3, 1], [1, 4]],
    [[300], [300]],
  ];
  for (const kernel of ['Add', 'Sub', 'Multiply', 'RealDiv']) {
    it.each(binaryCases)(`${kernel}: a %j, b %j`, async (as, bs) => {
      const b = random(Math.max(1, tf.util.sizeFromShape(bs)), 22);
      // Away from 0 for RealDiv.
      if (kernel === 'RealDiv') b.forEach((v, i) => (b[i] = v + Math.sign(v || 1) * 0.5));
      await matchesCpu(kernel, { a: { values: random(tf.util.sizeFromShape(as), 21), shape: as }, b: { values: b, shape: bs } }, {});
    });
  }

  it.each(['Relu', 'Step', 'Square', 'Sqrt'])('%s, with NaN kept NaN', async (kernel) => {
    const big = random(64 * 26 * 26 * 8, 23);
    const small = Float32Array.from([NaN, -2, -0, 0, 1.5, 3]);
    for (const values of [big, small]) {
      const input = kernel === 'Sqrt' ? values.map((v) => (Number.isNaN(v) ? v : Math.abs(v))) : values;
      const attrs = kernel === 'Step' ? { alpha: 0 } : {};
      const cpu = await runOn('cpu', kernel, { x: { values: input, shape: [input.length] } }, attrs);
      const native = await runOn('native', kernel, { x: { values: input, shape: [input.length] } }, attrs);
      // Compared element by element, NaN equal to NaN (a diff of 346K values would not be read).
      const differ = native.values.filter((v, i) => !Object.is(v, cpu.values[i]) && !(Number.isNaN(v) && Number.isNaN(cpu.values[i])) && v !== cpu.values[i]).length;
      expect(differ).toBe(0);
    }
  });

  it('Step with an alpha (the wasm kernel\'s), and Cast to its own dtype sharing storage', async () => {
    const values = Float32Array.from([-1, 0, 2]);
    await matchesCpu('Step', { x: { values, shape: [3] } }, { alpha: 0.25 });
    await matchesCpu('Cast', { x: { values, shape: [3] } }, { dtype: 'float32' });
    await matchesCpu('Cast', { x: { values, shape: [3] } }, { dtype: 'int32' });
  });

  // [shape, axes, keepDims]
  const sumCases: Array<[number[], number | number[], boolean]> = [
    [[64, 26, 26, 32], [0, 1, 2], false],
    [[64, 26, 26, 32], [2, 0, 1], true],
    [[64, 256], 0, false],
    [[7, 9], [0, 1], false],
    [[4, 5, 6], [1, 2], false],
    [[4, 5, 6], -1, true],
  ];
  it.each(sumCases)('Sum: x %j over axes %j, keepDims %s', async (shape, axis, keepDims) => {
    await matchesCpu('Sum', { x: { values: random(tf.util.sizeFromShape(shape), 24), shape } }, { axis, keepDims });
  });

  it('answers a batch of 0 with an empty output (wasm\'s own BatchMatMul fails on it)', async () => {
    const empty = { values: new Float32Array(0), shape: [0, 5, 5, 2] };
    await matchesCpu('Conv2D', { x: empty, filter: { values: random(3 * 3 * 2 * 4, 1), shape: [3, 3, 2, 4] } }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] });
    await matchesCpu('MaxPool', { x: empty }, { filterSize: [2, 2], strides: [2, 2], pad: 'valid' });
    await matchesCpu('BatchMatMul', { a: { values: new Float32Array(0), shape: [0, 3, 4] }, b: { values: random(12, 2), shape: [1, 4, 3] } }, { transposeA: false, transposeB: false });
  });

  it('refuses a parameter block that points outside the heap, naming the tensor', async () => {
    await selectBackend('native', { threads: 1 });
    const heap = new ArrayBuffer(1024);
    const p = new Float64Array([0, 0, 0, 4096, -1, 1, 4, 4, 1, 3, 3, 1, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    if (!addon.ok) return;
    expect(() => addon.addon.conv2d(heap, p)).toThrow(/tensor 'y' lies outside the buffer/);
    expect(() => addon.addon.matmul(heap, new Float64Array(3))).toThrow(/13 parameters/);
    expect(() => addon.addon.setThreads(0)).toThrow(/threads/);
  });

  it('uses the threads it is given', async () => {
    if (!addon.ok) return;
    addon.addon.setThreads(2);
    expect(addon.addon.threads()).toBe(2);
    addon.addon.setThreads(1);
    expect(addon.addon.threads()).toBe(1);
  });
});
