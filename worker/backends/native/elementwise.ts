import * as tf from '@tensorflow/tfjs-core';
import { NativeAddon } from '../../../shared/native-addon';
import { Args, Fallback, heap, isFloat, offset } from './kernels';

/**
 * The element-wise ops and the reduction that a convolutional training step
 * runs on its largest tensors: bias adds and ReLUs forward; ReLU's gradient
 * (Step, Cast, Multiply) and the bias gradient (Sum over the leading axes)
 * backward; the optimizer's arithmetic. Each is one pass over memory, which
 * the wasm kernels make on one thread; here the pass is a C++ loop the
 * compiler vectorizes (for x86-64's baseline SIMD: the addon is built for any
 * CPU of its architecture), on the worker's threads for large tensors.
 */

/** Op numbers of the addon's element-wise kernel. */
const OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Relu: 10, Step: 11, Square: 12, Sqrt: 13 } as const;

/** Element-wise parameters: [op, a, b, out, n, aSize, bSize] (a, b, out: byte offsets). */
const params = new Float64Array(7);

function run(addon: NativeAddon, backend: Args['backend'], op: number, a: tf.TensorInfo, b: tf.TensorInfo | undefined, out: tf.TensorInfo): void {
  params[0] = op;
  params[1] = offset(backend, a);
  params[2] = b ? offset(backend, b) : 0;
  params[3] = offset(backend, out);
  params[4] = tf.util.sizeFromShape(out.shape);
  params[5] = tf.util.sizeFromShape(a.shape);
  params[6] = b ? tf.util.sizeFromShape(b.shape) : 0;
  addon.elementwise(heap(backend), params);
}

/** Whether `shape` is a scalar or the trailing axes of `out` (leading 1s aside): a run that repeats along it. */
function repeatsAlong(shape: number[], out: number[]): boolean {
  const own = shape.slice(shape.findIndex((d) => d !== 1));
  if (tf.util.sizeFromShape(shape) === 1) return true;
  if (own.length > out.length) return false;
  const tail = out.slice(out.length - own.length);
  return own.every((d, i) => d === tail[i]);
}

/** Add, Sub, Multiply, RealDiv of float32 tensors where one operand has the output's size and the other is it, a scalar or a trailing run. */
export function binaryKernel(addon: NativeAddon, kernelName: keyof typeof OPS, fallback: Fallback): tf.KernelFunc {
  const op = OPS[kernelName];
  return ((args: Args) => {
    const { inputs, backend } = args;
    const a = inputs.a!;
    const b = inputs.b!;
    if (!isFloat(a, b)) return fallback(args);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = tf.util.sizeFromShape(shape);
    const aSize = tf.util.sizeFromShape(a.shape);
    const bSize = tf.util.sizeFromShape(b.shape);
    const fits = n > 0 && repeatsAlong(a.shape, shape) && repeatsAlong(b.shape, shape) && (aSize === n || bSize === n);
    if (!fits) return fallback(args);
    const out = backend.makeOutput(shape, 'float32');
    run(addon, backend, op, a, b, out);
    return out;
  }) as unknown as tf.KernelFunc;
}

/** Relu, Step (alpha 0: ReLU's gradient), Square, Sqrt of a float32 tensor. */
export function unaryKernel(addon: NativeAddon, kernelName: keyof typeof OPS, fallback: Fallback): tf.KernelFunc {
  const op = OPS[kernelName];
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const alpha = (attrs as { alpha?: number } | undefined)?.alpha ?? 0;
    if (!isFloat(x) || tf.util.sizeFromShape(x.shape) === 0 || (kernelName === 'Step' && alpha !== 0)) return fallback(args);
    const out = backend.makeOutput(x.shape, 'float32');
    run(addon, backend, op, x, undefined, out);
    return out;
  }) as unknown as tf.KernelFunc;
}

/**
 * Cast to the tensor's own dtype shares its storage (tensors are immutable),
 * as Identity does: ReLU's gradient casts Step's float32 output to float32.
 */
export function castKernel(_addon: NativeAddon, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    if ((attrs as { dtype: tf.DataType }).dtype !== x.dtype || x.dtype === 'string' || x.dtype === 'complex64') return fallback(args);
    (backend as unknown as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as tf.KernelFunc;
}

/** Sum parameters: [x, out, outer, inner] (x, out: byte offsets). */
const sumParams = new Float64Array(4);

/** Sum of a float32 tensor over its leading axes (a bias gradient), in one pass. */
export function sumKernel(addon: NativeAddon, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
    const axes = [...tf.util.parseAxisParam(axis, x.shape)].sort((p, q) => p - q);
    const k = axes.length;
    const leading = k > 0 && axes.every((a, i) => a === i);
    if (!isFloat(x) || !leading || tf.util.sizeFromShape(x.shape) === 0) return fallback(args);
    const kept = x.shape.slice(k);
    const out = backend.makeOutput(keepDims ? [...new Array<number>(k).fill(1), ...kept] : kept, 'float32');
    sumParams[0] = offset(backend, x);
    sumParams[1] = offset(backend, out);
    sumParams[2] = tf.util.sizeFromShape(x.shape.slice(0, k));
    sumParams[3] = tf.util.sizeFromShape(kept);
    addon.sumLeading(heap(backend), sumParams);
    return out;
  }) as unknown as tf.KernelFunc;
}
