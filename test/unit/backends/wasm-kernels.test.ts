import * as tf from '@tensorflow/tfjs-core';
// Gradients are registered by tfjs-layers in the product; this test uses core ops only.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../shared/random';
import { random, relativeError, runOn } from '../../harness/kernels';
import { selectBackend } from '../../../worker/backends/select';
import { FilterGradRoute, conv2DBackpropFilterBy, conv2DBackpropFilterRoute } from '../../../worker/backends/wasm-kernels/conv2d-backprop-filter';
import { WasmBackend } from '../../../worker/backends/wasm-kernels/primitives';
import { WASM_TRAINING_KERNELS } from '../../../worker/backends/wasm-kernels/register';

describe('wasm training kernels', () => {
  it('are registered for wasm when the worker selects it', async () => {
    await selectBackend('wasm');
    for (const k of WASM_TRAINING_KERNELS) expect(tf.getKernel(k.kernelName, 'wasm')).toBeDefined();
  });

  // [batch, height, width, inChannels, filter, outChannels, stride, pad]
  const convCases: Array<[number, number, number, number, number, number, number, 'same' | 'valid' | number]> = [
    [1, 5, 5, 1, 3, 1, 1, 'valid'],
    [2, 8, 8, 3, 3, 4, 1, 'same'],
    [4, 28, 28, 1, 3, 8, 1, 'valid'],
    [3, 9, 7, 2, 3, 5, 2, 'same'],
    [3, 9, 7, 2, 3, 5, 2, 'valid'],
    [2, 10, 10, 4, 5, 6, 3, 'valid'],
    [2, 11, 11, 3, 2, 2, 2, 'same'],
    [5, 6, 6, 2, 1, 3, 1, 'valid'],
    [2, 7, 7, 3, 3, 4, 1, 1],
    [2, 12, 10, 3, 4, 2, 2, 2],
    // One or two input channels (a first layer), with strides and padding.
    [2, 9, 7, 1, 3, 4, 2, 'same'],
    [3, 10, 8, 1, 4, 2, 3, 1],
    [2, 6, 9, 2, 2, 3, 1, 'same'],
    // Under half as many patch columns (filter² · in channels) as out channels: the patches route.
    [4, 28, 28, 1, 3, 32, 1, 'valid'],
    [2, 9, 7, 1, 3, 16, 2, 'same'],
    [3, 10, 8, 1, 4, 20, 3, 1],
    [2, 8, 8, 3, 3, 64, 1, 'same'],
    [3, 9, 7, 2, 3, 40, 2, 'valid'],
  ];
  const filterGradInputs = (n: number, h: number, w: number, ci: number, f: number, co: number, s: number, pad: 'same' | 'valid' | number) => {
    const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], [f, f, ci, co], s, 1, pad);
    return {
      inputs: {
        x: { values: random(n * h * w * ci, h * 31 + w), shape: [n, h, w, ci] },
        dy: { values: random(n * info.outHeight * info.outWidth * co, co * 7 + s), shape: [n, info.outHeight, info.outWidth, co] },
      },
      attrs: { strides: [s, s] as [number, number], pad, dataFormat: 'NHWC' as const, filterShape: [f, f, ci, co] as [number, number, number, number] },
    };
  };
  it.each(convCases)('Conv2DBackpropFilter matches cpu: x [%i, %i, %i, %i], filter size %i, %i out channels, stride %i, pad %s', async (n, h, w, ci, f, co, s, pad) => {
    const { inputs, attrs } = filterGradInputs(n, h, w, ci, f, co, s, pad);
    const cpu = await runOn('cpu', 'Conv2DBackpropFilter', inputs, attrs);
    const wasm = await runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs);
    expect(wasm.shape).toEqual([f, f, ci, co]);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-4);
  });

  // The kernel takes one route per shape; each route must hold on every shape.
  it.each(convCases.flatMap((c) => (['convolution', 'patches'] as FilterGradRoute[]).map((r) => [r, ...c] as const)))(
    'Conv2DBackpropFilter by %s matches cpu: x [%i, %i, %i, %i], filter size %i, %i out channels, stride %i, pad %s', async (route, n, h, w, ci, f, co, s, pad) => {
      const { inputs, attrs } = filterGradInputs(n, h, w, ci, f, co, s, pad);
      const cpu = await runOn('cpu', 'Conv2DBackpropFilter', inputs, attrs);
      await selectBackend('wasm');
      const backend = tf.backend() as WasmBackend;
      const x = tf.tensor(inputs.x.values, inputs.x.shape);
      const dy = tf.tensor(inputs.dy.values, inputs.dy.shape);
      const out = conv2DBackpropFilterBy(route, x, dy, backend, attrs);
      const values = backend.readSync(out.dataId) as Float32Array;
      backend.disposeData(out.dataId);
      tf.dispose([x, dy]);
      expect(out.shape).toEqual([f, f, ci, co]);
      expect(relativeError(values, cpu.values)).toBeLessThan(1e-4);
    });

  it('Conv2DBackpropFilter packs the smaller operand: patches for a first layer, a convolution past it', () => {
    expect(conv2DBackpropFilterRoute([3, 3, 1, 32])).toBe('patches');
    expect(conv2DBackpropFilterRoute([3, 3, 3, 64])).toBe('patches');
    expect(conv2DBackpropFilterRoute([3, 3, 3, 32])).toBe('convolution');
    expect(conv2DBackpropFilterRoute([3, 3, 32, 64])).toBe('convolution');
    expect(conv2DBackpropFilterRoute([5, 5, 1, 8])).toBe('convolution');
  });

  // [shape, axes, keepDims, dtype]: leading runs take the 2-D route, the others the package's.
  const sumCases: Array<[number[], number | number[], boolean, 'float32' | 'int32']> = [
    [[4, 5, 6, 3], [0, 1, 2], false, 'float32'],
    [[4, 5, 6, 3], [2, 0, 1], true, 'float32'],
    [[4, 5, 6], [0, 1], false, 'int32'],
    [[4, 5, 6], 0, true, 'float32'],
    [[3, 4, 5, 6], [-4, -3], false, 'float32'],
    [[4, 5, 6, 3], [1, 2], false, 'float32'],
    [[4, 5, 6, 3], [0, 1, 2, 3], false, 'float32'],
    [[7, 9], 0, false, 'float32'],
  ];
  it.each(sumCases)('Sum matches cpu: x %j over axes %j, keepDims %s, %s', async (shape, axis, keepDims, dtype) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = dtype === 'int32' ? Int32Array.from(random(size, 11), (v) => Math.round(v * 50)) : random(size, 11);
    const inputs = { x: { values, shape } };
    const cpu = await runOn('cpu', 'Sum', inputs, { axis, keepDims });
    const wasm = await runOn('wasm', 'Sum', inputs, { axis, keepDims });
    expect(wasm.shape).toEqual(cpu.shape);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-6);
  });

  it.each([[6, 4, [3]], [50, 7, [2, 3]], [200, 1000, [16]], [1, 3, [5]]] as Array<[number, number, number[]]>)(
    'UnsortedSegmentSum matches cpu: %i rows into %i segments, rows of shape %j', async (rows, segments, rowShape) => {
      const rand = seededRandom(rows + segments);
      const size = rowShape.reduce((a, b) => a * b, 1);
      // Ids repeat (several rows per segment) and include one out of range, which is dropped.
      const ids = Int32Array.from({ length: rows }, (_, i) => (i === 0 && rows > 1 ? segments : Math.floor(rand() * segments)));
      const inputs = { x: { values: random(rows * size, 5), shape: [rows, ...rowShape] }, segmentIds: { values: ids, shape: [rows] } };
      const cpu = await runOn('cpu', 'UnsortedSegmentSum', inputs, { numSegments: segments });
      const wasm = await runOn('wasm', 'UnsortedSegmentSum', inputs, { numSegments: segments });
      expect(wasm.shape).toEqual([segments, ...rowShape]);
      expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-4);
    });

  // [batch, height, width, inChannels, filter, outChannels, stride, pad]: strided cases keep the package's kernel.
  it.each(convCases)('Conv2DBackpropInput matches cpu: dy of x [%i, %i, %i, %i], filter size %i, %i out channels, stride %i, pad %s', async (n, h, w, ci, f, co, s, pad) => {
    const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], [f, f, ci, co], s, 1, pad);
    const inputs = {
      dy: { values: random(n * info.outHeight * info.outWidth * co, co * 5 + s), shape: [n, info.outHeight, info.outWidth, co] },
      filter: { values: random(f * f * ci * co, f * 13 + ci), shape: [f, f, ci, co] },
    };
    const attrs = { strides: [s, s], pad, dataFormat: 'NHWC', inputShape: [n, h, w, ci] };
    const cpu = await runOn('cpu', 'Conv2DBackpropInput', inputs, attrs);
    const wasm = await runOn('wasm', 'Conv2DBackpropInput', inputs, attrs);
    expect(wasm.shape).toEqual([n, h, w, ci]);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-4);
  });

  // [batch dims of a, a's rows, inner, b's cols, batch dims of b, transposeA, transposeB]
  const matMulCases: Array<[number[], number, number, number, number[], boolean, boolean]> = [
    [[], 64, 300, 20, [], true, false],
    [[], 64, 300, 20, [], false, true],
    [[], 7, 5, 3, [], true, true],
    [[], 4, 10, 500, [], false, true],
    [[3], 4, 6, 5, [3], true, false],
    [[2], 4, 6, 5, [1], false, true],
    [[], 8, 8, 8, [], false, false],
  ];
  it.each(matMulCases)('BatchMatMul matches cpu: batch %j, %i×%i · ×%i, b batch %j, transposeA %s, transposeB %s', async (batchA, m, k, nCols, batchB, ta, tb) => {
    const aShape = [...batchA, ...(ta ? [k, m] : [m, k])];
    const bShape = [...batchB, ...(tb ? [nCols, k] : [k, nCols])];
    const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
    const inputs = { a: { values: random(size(aShape), m + k), shape: aShape }, b: { values: random(size(bShape), k + nCols), shape: bShape } };
    const attrs = { transposeA: ta, transposeB: tb };
    const cpu = await runOn('cpu', 'BatchMatMul', inputs, attrs);
    const wasm = await runOn('wasm', 'BatchMatMul', inputs, attrs);
    expect(wasm.shape).toEqual(cpu.shape);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThan(1e-4);
  });

  // [batch, height, width, channels, pool, stride, pad]
  const poolCases: Array<[number, number, number, number, number, number, 'same' | 'valid']> = [
    [1, 4, 4, 1, 2, 2, 'valid'],
    [2, 5, 5, 3, 2, 2, 'valid'],
    [2, 7, 6, 2, 3, 2, 'same'],
    [3, 8, 8, 4, 3, 1, 'valid'],
    [2, 9, 9, 2, 2, 3, 'same'],
    // 2×2 stride 2 with every window inside (the disjoint route), an even size under SAME included.
    [2, 6, 6, 3, 2, 2, 'same'],
    [3, 6, 8, 2, 2, 2, 'valid'],
    // An odd size under SAME pads the last window: the general route.
    [2, 7, 5, 2, 2, 2, 'same'],
  ];
  const maxPoolGradient = async (backend: 'cpu' | 'wasm', x: Float32Array, [n, h, w, c]: number[], f: number, s: number, pad: 'same' | 'valid') => {
    await selectBackend(backend);
    return tf.tidy(() => {
      const xt = tf.tensor4d(x, [n, h, w, c]);
      const y = tf.maxPool(xt, f, s, pad);
      const weights = tf.tensor(random(y.size, 3), y.shape);
      return tf.grad((v: tf.Tensor4D) => tf.sum(tf.mul(tf.maxPool(v, f, s, pad), weights)))(xt).dataSync() as Float32Array;
    });
  };
  it.each(poolCases)('MaxPoolGrad matches cpu, negative windows included: x [%i, %i, %i, %i], pool %i, stride %i, pad %s', async (n, h, w, c, f, s, pad) => {
    // Shifted down so that many windows hold only negative values.
    const x = random(n * h * w * c, h * 17 + f).map((v) => v - 0.6);
    const cpu = await maxPoolGradient('cpu', x, [n, h, w, c], f, s, pad);
    const wasm = await maxPoolGradient('wasm', x, [n, h, w, c], f, s, pad);
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-6);
  });

  it.each(poolCases)('MaxPoolGrad gives a tied window its first maximum, as cpu: x [%i, %i, %i, %i], pool %i, stride %i, pad %s', async (n, h, w, c, f, s, pad) => {
    // Three levels, zeros most often (a ReLU's output): most windows hold a tie.
    const x = random(n * h * w * c, h * 29 + f).map((v) => Math.max(0, Math.round(v * 3) - 1));
    const cpu = await maxPoolGradient('cpu', x, [n, h, w, c], f, s, pad);
    const wasm = await maxPoolGradient('wasm', x, [n, h, w, c], f, s, pad);
    // Not bit-equal: where windows overlap, a position's gradients add up in another order.
    // A gradient routed to another position of a tie would be an error of order 1.
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-6);
  });

  it('trains through a conv layer and an embedding on wasm with the same gradients as cpu', async () => {
    const grads = async (backend: 'cpu' | 'wasm') => {
      await selectBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(random(2 * 6 * 6 * 2, 1), [2, 6, 6, 2]);
        const w = tf.tensor4d(random(3 * 3 * 2 * 4, 2), [3, 3, 2, 4]);
        const table = tf.tensor2d(random(10 * 3, 3), [10, 3]);
        const ids = tf.tensor1d([1, 4, 4, 9, 0], 'int32');
        const g = tf.grads((wv: tf.Tensor, tv: tf.Tensor) =>
          tf.add(tf.sum(tf.square(tf.conv2d(x, wv as tf.Tensor4D, 1, 'same'))), tf.sum(tf.square(tf.gather(tv, ids)))));
        return g([w, table]).map((t) => t.dataSync() as Float32Array);
      });
    };
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    for (let i = 0; i < cpu.length; i++) expect(relativeError(wasm[i], cpu[i])).toBeLessThan(1e-4);
  });

  // [x shape, axis, indices shape, dtype]: a slice of one value or many, indices of any rank, leading and inner axes.
  const gatherCases: Array<[number[], number, number[], 'float32' | 'int32']> = [
    [[50, 28, 28, 1], 0, [64], 'float32'],
    [[50, 1], 0, [64], 'float32'],
    [[7, 5, 3], 1, [2, 4], 'float32'],
    [[7, 5, 3], 2, [6], 'int32'],
    [[9, 20], 0, [3, 2], 'int32'],
    [[4, 30], -1, [11], 'float32'],
    [[6, 4], 0, [0], 'float32'],
  ];
  it.each(gatherCases)('GatherV2 matches cpu exactly: x %j along axis %i, indices %j, %s', async (shape, axis, indexShape, dtype) => {
    const size = tf.util.sizeFromShape(shape);
    const values = dtype === 'float32' ? random(size, size) : Int32Array.from({ length: size }, (_, i) => i * 7 - 3);
    const dim = shape[axis < 0 ? shape.length + axis : axis];
    const rand = seededRandom(dim);
    const indices = Int32Array.from({ length: tf.util.sizeFromShape(indexShape) }, () => Math.floor(rand() * dim));
    const inputs = { x: { values, shape }, indices: { values: indices, shape: indexShape } };
    const cpu = await runOn('cpu', 'GatherV2', inputs, { axis, batchDims: 0 });
    const wasm = await runOn('wasm', 'GatherV2', inputs, { axis, batchDims: 0 });
    expect(wasm.shape).toEqual(cpu.shape);
    expect([...wasm.values]).toEqual([...cpu.values]);
  });

  it('GatherV2 keeps a NaN\'s bits and refuses an index out of range, naming it', async () => {
    await selectBackend('wasm');
    const bits = new Int32Array([0x7fa00001, 0x3f800000, -1]); // a signalling NaN, 1.0, a NaN of all ones
    const x = tf.tensor(new Float32Array(bits.buffer), [3, 1]);
    const out = tf.gather(x, tf.tensor1d([2, 0, 1], 'int32'));
    expect([...new Int32Array((await out.data() as Float32Array).buffer)]).toEqual([-1, 0x7fa00001, 0x3f800000]);
    const past = tf.tensor1d([0, 3], 'int32');
    const negative = tf.tensor1d([-1], 'int32');
    const before = tf.memory().numTensors;
    expect(() => tf.gather(x, past)).toThrow('GatherV2: the index value 3 is not in [0, 2]');
    expect(() => tf.gather(x, negative)).toThrow('GatherV2: the index value -1 is not in [0, 2]');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, out, past, negative]);
  });

  it('clones without copying, and the clone and its source outlive each other', async () => {
    await selectBackend('wasm');
    const before = tf.memory();
    const x = tf.tensor1d([1, -2, 3]);
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers + 1); // one buffer for both
    x.dispose();
    expect([...(await y.data())]).toEqual([1, -2, 3]);
    const z = tf.clone(y);
    y.dispose();
    const sum = tf.add(z, 1);
    expect([...(await sum.data())]).toEqual([2, -1, 4]);
    tf.dispose([z, sum]);
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });
});
