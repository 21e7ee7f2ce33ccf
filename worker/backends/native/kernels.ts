import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend } from '../wasm-kernels/primitives';
import { NativeAddon } from '../../../shared/native-addon';

/** The wasm backend's bookkeeping that places a tensor in its heap. */
export interface HeapBackend extends WasmBackend {
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

export type Args = { inputs: tf.NamedTensorInfoMap; backend: HeapBackend; attrs: Record<string, unknown> };
/** The kernel a native one hands the cases it does not cover (NCHW, PReLU, odd biases). */
export type Fallback = (args: Args) => tf.TensorInfo;

export function offset(backend: HeapBackend, info: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  tf.util.assert(data !== undefined && data.memoryOffset !== null, () => 'tensor has no data in the wasm heap');
  return data!.memoryOffset;
}

/**
 * The heap is read after every output is made: allocating may grow the wasm
 * memory, which replaces its ArrayBuffer.
 */
export function heap(backend: HeapBackend): ArrayBuffer {
  return backend.wasm.HEAPU8.buffer as ArrayBuffer;
}

export const isFloat = (...infos: tf.TensorInfo[]): boolean => infos.every((i) => i.dtype === 'float32');

/** tfjs's fused activations as the addon numbers them; PReLU has none (its weights are a tensor). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };

// ---------------------------------------------------------------- convolution

const enum ConvMode { Forward = 0, BackwardData = 1, BackwardFilter = 2 }

/**
 * Convolution parameters, in the addon's order:
 * [mode, x, filter, y, bias, N, H, W, C, FH, FW, O, OH, OW, strideH, strideW,
 *  dilationH, dilationW, padTop, padLeft, padBottom, padRight, activation, alpha]
 * (x, filter, y, bias: byte offsets; bias −1 for none).
 */
const convParams = new Float64Array(24);

/**
 * oneDNN derives the output size from the padding, rounding down; tfjs can
 * round up (`dimRoundingMode: 'ceil'`). Those rare shapes keep the wasm
 * kernel, as do empty tensors.
 */
function sizesAgree(info: tf.backend_util.Conv2DInfo): boolean {
  const { top, bottom, left, right } = info.padInfo;
  const { inHeight: H, inWidth: W, effectiveFilterHeight: KH, effectiveFilterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  // oneDNN takes no zero sizes: the kernels answer empty outputs themselves, and hand the rest to wasm.
  const nonEmpty = info.batchSize > 0 && info.inChannels > 0 && info.outChannels > 0 && info.outHeight > 0 && info.outWidth > 0 && H > 0 && W > 0;
  return nonEmpty && top >= 0 && left >= 0 && bottom >= 0 && right >= 0
    && Math.floor((H + top + bottom - KH) / sh) + 1 === info.outHeight
    && Math.floor((W + left + right - KW) / sw) + 1 === info.outWidth;
}

function runConv(addon: NativeAddon, backend: HeapBackend, mode: ConvMode, info: tf.backend_util.Conv2DInfo,
  x: tf.TensorInfo, filter: tf.TensorInfo, y: tf.TensorInfo, bias: tf.TensorInfo | undefined, activation: number, alpha: number): void {
  const p = convParams;
  p[0] = mode;
  p[1] = offset(backend, x);
  p[2] = offset(backend, filter);
  p[3] = offset(backend, y);
  p[4] = bias ? offset(backend, bias) : -1;
  p[5] = info.batchSize; p[6] = info.inHeight; p[7] = info.inWidth; p[8] = info.inChannels;
  p[9] = info.filterHeight; p[10] = info.filterWidth; p[11] = info.outChannels; p[12] = info.outHeight; p[13] = info.outWidth;
  p[14] = info.strideHeight; p[15] = info.strideWidth; p[16] = info.dilationHeight; p[17] = info.dilationWidth;
  p[18] = info.padInfo.top; p[19] = info.padInfo.left; p[20] = info.padInfo.bottom; p[21] = info.padInfo.right;
  p[22] = activation; p[23] = alpha;
  addon.conv2d(heap(backend), p);
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
}

/** Conv2D and FusedConv2D (bias of one value per output channel; every activation but PReLU). */
export function conv2DKernel(addon: NativeAddon, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as ConvAttrs;
    const { x, filter, bias, preluActivationWeights } = inputs;
    const activation = ACTIVATIONS[attrs.activation ?? 'linear'];
    const info = convInfo(x!.shape, filter!.shape, attrs);
    const supported = attrs.dataFormat !== 'NCHW' && activation !== undefined && !preluActivationWeights && isFloat(x!, filter!)
      && (!bias || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === info.outChannels)) && sizesAgree(info);
    if (info.batchSize === 0 && isFloat(x!, filter!)) return backend.makeOutput(info.outShape, 'float32'); // nothing to compute
    if (!supported) return fallback(args);
    const y = backend.makeOutput(info.outShape, 'float32');
    runConv(addon, backend, ConvMode.Forward, info, x!, filter!, y, bias, activation, attrs.leakyreluAlpha ?? 0.2);
    return y;
  }) as unknown as tf.KernelFunc;
}

export function conv2DBackpropInputKernel(addon: NativeAddon, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
    const { dy, filter } = inputs;
    const info = convInfo(attrs.inputShape, filter!.shape, { ...attrs, dilations: 1 });
    if (attrs.dataFormat === 'NCHW' || !isFloat(dy!, filter!) || !sizesAgree(info)) return fallback(args);
    const dx = backend.makeOutput(attrs.inputShape, 'float32');
    runConv(addon, backend, ConvMode.BackwardData, info, dx, filter!, dy!, undefined, 0, 0);
    return dx;
  }) as unknown as tf.KernelFunc;
}

export function conv2DBackpropFilterKernel(addon: NativeAddon, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
    const { x, dy } = inputs;
    const info = convInfo(x!.shape, attrs.filterShape, { ...attrs, dilations: 1 });
    if (attrs.dataFormat === 'NCHW' || !isFloat(x!, dy!) || !sizesAgree(info)) return fallback(args);
    const dw = backend.makeOutput(attrs.filterShape, 'float32');
    runConv(addon, backend, ConvMode.BackwardFilter, info, x!, dw, dy!, undefined, 0, 0);
    return dw;
  }) as unknown as tf.KernelFunc;
}

// --------------------------------------------------------------------- matmul

/**
 * Matmul parameters: [a, b, c, bias, batchA, batchB, M, K, N, transposeA,
 * transposeB, activation, alpha] (a, b, c, bias: byte offsets; bias −1 for none).
 */
const matmulParams = new Float64Array(13);

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** BatchMatMul and _FusedMatMul: transposes are strides, not copies; one batch may broadcast over the other. */
export function matMulKernel(addon: NativeAddon, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as MatMulAttrs;
    const { a, b, bias, preluActivationWeights } = inputs;
    const activation = ACTIVATIONS[attrs.activation ?? 'linear'];
    const ra = a!.shape.length;
    const rb = b!.shape.length;
    const M = attrs.transposeA ? a!.shape[ra - 1] : a!.shape[ra - 2];
    const K = attrs.transposeA ? a!.shape[ra - 2] : a!.shape[ra - 1];
    const N = attrs.transposeB ? b!.shape[rb - 2] : b!.shape[rb - 1];
    const kB = attrs.transposeB ? b!.shape[rb - 1] : b!.shape[rb - 2];
    const outerA = a!.shape.slice(0, -2);
    const outerB = b!.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    // Bias as one value per column, whatever its rank ([N], [1, N], …).
    const columnBias = !bias || (bias.dtype === 'float32' && bias.shape[bias.shape.length - 1] === N && tf.util.sizeFromShape(bias.shape) === N);
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    const supported = ra >= 2 && rb >= 2 && K === kB && activation !== undefined && !preluActivationWeights && columnBias && isFloat(a!, b!)
      && (sameOuter || batchA === 1 || batchB === 1) && M * N > 0 && K > 0 && batchA > 0 && batchB > 0;
    const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    // An empty product has nothing to compute (wasm's own kernel fails on a batch of 0).
    if (isFloat(a!, b!) && tf.util.sizeFromShape(outer) * M * N === 0) return backend.makeOutput([...outer, M, N], 'float32');
    if (!supported) return fallback(args);
    const c = backend.makeOutput([...outer, M, N], 'float32');
    const p = matmulParams;
    p[0] = offset(backend, a!); p[1] = offset(backend, b!); p[2] = offset(backend, c); p[3] = bias ? offset(backend, bias) : -1;
    p[4] = batchA; p[5] = batchB; p[6] = M; p[7] = K; p[8] = N;
    p[9] = attrs.transposeA ? 1 : 0; p[10] = attrs.transposeB ? 1 : 0; p[11] = activation; p[12] = attrs.leakyreluAlpha ?? 0.2;
    addon.matmul(heap(backend), p);
    return c;
  }) as unknown as tf.KernelFunc;
}

// -------------------------------------------------------------------- pooling

const enum PoolMode { MaxForward = 0, AvgForward = 1, MaxBackward = 2, AvgBackward = 3, MaxReluBackward = 4 }

/**
 * Pooling parameters: [mode, x, y-or-dy, dx, N, H, W, C, OH, OW, FH, FW,
 * strideH, strideW, padTop, padLeft, padBottom, padRight, y, db] (byte
 * offsets; x is unused by the average pool's gradient, y is the max pool's
 * output that its gradient is given, db the bias gradient that the pool's
 * gradient through a ReLU also writes).
 */
const poolParams = new Float64Array(20);

export interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function runPool(addon: NativeAddon, backend: HeapBackend, mode: PoolMode, info: tf.backend_util.Conv2DInfo,
  x: tf.TensorInfo | undefined, yOrDy: tf.TensorInfo, dx: tf.TensorInfo | undefined, maxOutput?: tf.TensorInfo, db?: tf.TensorInfo): void {
  const p = poolParams;
  p[0] = mode;
  p[1] = x ? offset(backend, x) : 0;
  p[2] = offset(backend, yOrDy);
  p[3] = dx ? offset(backend, dx) : 0;
  p[4] = info.batchSize; p[5] = info.inHeight; p[6] = info.inWidth; p[7] = info.inChannels;
  p[8] = info.outHeight; p[9] = info.outWidth; p[10] = info.filterHeight; p[11] = info.filterWidth;
  p[12] = info.strideHeight; p[13] = info.strideWidth;
  p[14] = info.padInfo.top; p[15] = info.padInfo.left; p[16] = info.padInfo.bottom; p[17] = info.padInfo.right;
  p[18] = maxOutput ? offset(backend, maxOutput) : 0;
  p[19] = db ? offset(backend, db) : 0;
  addon.pool2d(heap(backend), p);
}

function poolInfo(xShape: number[], attrs: PoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/** MaxPool and AvgPool. */
export function poolKernel(addon: NativeAddon, max: boolean, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const x = inputs.x!;
    const info = poolInfo(x.shape, args.attrs as unknown as PoolAttrs);
    if (info.batchSize === 0 && isFloat(x)) return backend.makeOutput(info.outShape, 'float32'); // nothing to compute
    if (!isFloat(x) || !sizesAgree(info)) return fallback(args);
    const y = backend.makeOutput(info.outShape, 'float32');
    runPool(addon, backend, max ? PoolMode.MaxForward : PoolMode.AvgForward, info, x, y, undefined);
    return y;
  }) as unknown as tf.KernelFunc;
}

/**
 * MaxPoolGrad of a pool whose input `x` is a ReLU's output, followed by that
 * ReLU's gradient, and the bias gradient (the sum over all axes but the
 * channels), in one pass where the windows tile: [dx, bias sums]. Undefined
 * for a case the native max pool hands to wasm.
 */
export function maxPoolReluGrad(addon: NativeAddon, backend: HeapBackend, attrs: PoolAttrs, x: tf.TensorInfo, y: tf.TensorInfo, dy: tf.TensorInfo): [tf.TensorInfo, Float32Array] | undefined {
  const info = poolInfo(x.shape, attrs);
  if (!isFloat(x, y, dy) || !sizesAgree(info)) return undefined;
  const dx = backend.makeOutput(x.shape, 'float32');
  const db = backend.makeOutput([info.inChannels], 'float32');
  runPool(addon, backend, PoolMode.MaxReluBackward, info, x, dy, dx, y, db);
  const sums = (backend.typedArrayFromHeap(db) as Float32Array).slice();
  backend.disposeData(db.dataId);
  return [dx, sums];
}

/** MaxPoolGrad (dy, input, output) and AvgPoolGrad (dy, input). */
export function poolGradKernel(addon: NativeAddon, max: boolean, fallback: Fallback): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const x = inputs.input!;
    const dy = inputs.dy!;
    const info = poolInfo(x.shape, args.attrs as unknown as PoolAttrs);
    if (!isFloat(x, dy) || !sizesAgree(info) || (max && !inputs.output)) return fallback(args);
    const dx = backend.makeOutput(x.shape, 'float32');
    runPool(addon, backend, max ? PoolMode.MaxBackward : PoolMode.AvgBackward, info, x, dy, dx, inputs.output);
    return dx;
  }) as unknown as tf.KernelFunc;
}
