import * as tf from '@tensorflow/tfjs-core';
import { NativeAddon } from '../../../shared/native-addon';
import { Args, Fallback, PoolAttrs, heap, isFloat, maxPoolReluGrad, offset } from './kernels';

/**
 * Layers fused for training on the native backend. tfjs fuses a layer's
 * bias and activation into its convolution or matmul only for inference:
 * under a gradient tape `tf.fused.conv2d` with a ReLU runs Conv2D, Add and
 * Relu, and the backward pass adds Step, Multiply and Sum — five passes over
 * a layer's largest tensors (64×26×26×32 floats for the CNN's first layer)
 * that oneDNN does in one (the convolution's post-ops) and one C++ loop does
 * in one more (the ReLU's gradient with the bias gradient). Two training
 * workers on one host are bound by memory bandwidth in those passes.
 *
 * The fused ops are kernels of their own with their own gradients, and
 * `tf.fused.conv2d` and `tf.fused.matMul` (which tfjs-layers' Conv2D and
 * Dense call) route to them when the native backend records gradients of a
 * ReLU layer with a bias; every other call runs tfjs's op unchanged.
 *
 * A max pool over such a convolution's output takes the ReLU's gradient into
 * its own (see {@link markPoolOfRelu}): one pass over the layer's output
 * where the pool's gradient and the ReLU's made three.
 */

export const CONV_BIAS_RELU = 'TfleetConv2DBiasRelu';
export const MATMUL_BIAS_RELU = 'TfleetMatMulBiasRelu';
export const RELU_GRAD_BIAS = 'TfleetReluGradBias';

/** Parameters of the ReLU gradient: [dy, y, dx, db, outer, inner] (byte offsets; db −1 for none). */
const reluGradParams = new Float64Array(6);

/**
 * dy · step(y) for a ReLU's output y, and the bias gradient (the sum of
 * those values over every axis but the last), in one pass.
 */
function reluGradBiasKernel(addon: NativeAddon): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const { dy, y } = inputs;
    tf.util.assert(isFloat(dy!, y!) && tf.util.arraysEqual(dy!.shape, y!.shape), () => `${RELU_GRAD_BIAS}: dy and y must be float32 of one shape`);
    const inner = dy!.shape[dy!.shape.length - 1];
    const outer = tf.util.sizeFromShape(dy!.shape) / Math.max(1, inner);
    const dx = backend.makeOutput(dy!.shape, 'float32');
    const db = backend.makeOutput([inner], 'float32');
    if (outer * inner > 0) {
      const p = reluGradParams;
      p[0] = offset(backend, dy!); p[1] = offset(backend, y!); p[2] = offset(backend, dx); p[3] = offset(backend, db);
      p[4] = outer; p[5] = inner;
      addon.reluGradBias(heap(backend), p);
    } else if (inner > 0) {
      new Float32Array(heap(backend), offset(backend, db), inner).fill(0);
    }
    return [dx, db];
  }) as unknown as tf.KernelFunc;
}

/** The forward kernel: the native FusedConv2D or _FusedMatMul, with a ReLU, under the fused op's own name. */
function reluKernel(kernel: tf.KernelFunc): tf.KernelFunc {
  const run = kernel as unknown as (args: Args) => tf.TensorInfo;
  return ((args: Args) => run({ ...args, attrs: { ...args.attrs, activation: 'relu' } })) as unknown as tf.KernelFunc;
}

/**
 * The ReLU's gradient and the bias gradient of one backward step. Computed
 * in the gradient function's body, not in an input's thunk: tfjs runs each
 * thunk in a scope of its own that would dispose them before the next.
 */
function reluGrad(dy: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(RELU_GRAD_BIAS, { dy, y }, {}) as unknown as [tf.Tensor, tf.Tensor];
}

// ------------------------------------------- a max pool over a ReLU layer

interface TapeState {
  gradientDepth: number;
  /** Above 0 inside a kernel (a custom gradient's forward function): nothing is recorded there. */
  kernelDepth: number;
  activeTape: unknown;
}

/**
 * The tape now recording at gradient depth 1, or null (no tape, a nested
 * one, or recording is off). `fromKernel`: asked from inside a kernel, which
 * itself counts as one level of kernel depth.
 */
function depthOneTape(fromKernel: boolean): unknown {
  const { gradientDepth, kernelDepth, activeTape } = tf.engine().state as unknown as TapeState;
  return gradientDepth === 1 && kernelDepth === (fromKernel ? 1 : 0) ? activeTape : null;
}

/** Outputs of the fused convolution (by storage), with the tape that recorded them at gradient depth 1. */
const reluOutputs = new WeakMap<tf.DataId, unknown>();
/** Outputs of max pools over those, whose gradient may take the ReLU's. */
const poolsOfRelu = new WeakSet<tf.DataId>();
/** The bias gradient that a pool's gradient through the ReLU computed, by the storage of that gradient, and the shape it was summed in. */
const biasSums = new WeakMap<tf.DataId, { sums: Float32Array; shape: number[] }>();

/**
 * Marks a max pool's output when its input is the output of a fused
 * convolution recorded on the same tape, at gradient depth 1 (and neither
 * inside a custom gradient's forward function, which records nothing and
 * whose gradient is the caller's own). Then the only
 * use of the gradient the pool hands its input is that convolution's own
 * gradient, which applies the ReLU's step to it first; the step may as well
 * be applied at once (it is idempotent, and linear in what it is applied
 * to, so gradients of other uses of the input that add to it are unharmed).
 * At depth 1 nothing recorded on the tape is a tensor the gradient is taken
 * with respect to (those exist before the tape starts); deeper tapes, which
 * a nested gradient shares, are left alone.
 */
function markPoolOfRelu(pool: tf.KernelFunc): tf.KernelFunc {
  const run = pool as unknown as (args: Args) => tf.TensorInfo;
  return ((args: Args) => {
    const y = run(args);
    const tape = depthOneTape(true);
    if (tape !== null && reluOutputs.get(args.inputs.x!.dataId) === tape) poolsOfRelu.add(y.dataId);
    return y;
  }) as unknown as tf.KernelFunc;
}

/** MaxPoolGrad, through the ReLU for a marked pool: the bias gradient is kept for the convolution's gradient. */
function poolGradThroughRelu(addon: NativeAddon, poolGrad: tf.KernelFunc): tf.KernelFunc {
  const run = poolGrad as unknown as (args: Args) => tf.TensorInfo;
  return ((args: Args) => {
    const { dy, input, output } = args.inputs;
    if (output === undefined || !poolsOfRelu.has(output.dataId)) return run(args);
    poolsOfRelu.delete(output.dataId);
    const fused = maxPoolReluGrad(addon, args.backend, args.attrs as unknown as PoolAttrs, input!, output, dy!);
    if (fused === undefined) return run(args);
    biasSums.set(fused[0].dataId, { sums: fused[1], shape: input!.shape });
    return fused[0];
  }) as unknown as tf.KernelFunc;
}

interface ConvOpAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function registerGradients(): void {
  tf.registerGradient({
    kernelName: CONV_BIAS_RELU,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as tf.Tensor4D[];
      const { strides, pad, dimRoundingMode } = attrs as unknown as ConvOpAttrs;
      const conv = { strides, pad, dimRoundingMode, dataFormat: 'NHWC', dilations: 1 } as unknown as tf.NamedAttrMap;
      // A pool's gradient that took the ReLU's into its own left the bias gradient too, summed
      // per channel of this very layout (a pool over a reshape of y would have other channels).
      const pooled = biasSums.get((dy as tf.Tensor).dataId);
      const [g, db] = pooled && tf.util.arraysEqual(pooled.shape, y.shape) ? [dy as tf.Tensor, tf.tensor1d(pooled.sums)] : reluGrad(dy as tf.Tensor, y);
      return {
        x: () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: g, filter }, { ...conv, inputShape: x.shape }) as tf.Tensor,
        filter: () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: g }, { ...conv, filterShape: filter.shape }) as tf.Tensor,
        bias: () => db,
      };
    },
  });
  tf.registerGradient({
    kernelName: MATMUL_BIAS_RELU,
    inputsToSave: ['a', 'b'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, y] = saved as tf.Tensor2D[];
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const [g, db] = reluGrad(dy as tf.Tensor, y);
      // The four cases of tfjs's own fused matmul gradient.
      return {
        a: () => (!transposeA ? tf.matMul(g, b, false, !transposeB) : transposeB ? tf.matMul(b, g, true, true) : tf.matMul(b, g, false, true)),
        b: () => (!transposeB ? tf.matMul(a, g, !transposeA, false) : transposeA ? tf.matMul(g, a, true, true) : tf.matMul(g, a, true, false)),
        bias: () => db,
      };
    },
  });
}

type FusedConvArgs = Parameters<typeof tf.fused.conv2d>[0];
type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];

const isOne = (d: unknown): boolean => d === undefined || d === 1 || (Array.isArray(d) && d.every((v) => v === 1));

/** A bias of one value per channel, as a tensor. */
function channelBias(bias: unknown, channels: number): bias is tf.Tensor1D {
  return bias instanceof tf.Tensor && bias.rank === 1 && bias.shape[0] === channels && bias.dtype === 'float32';
}

/** Whether this call is one the fused kernels take: the native backend, recording gradients, a ReLU layer with a bias. */
function training(activation: string | undefined): boolean {
  return activation === 'relu' && tf.getBackend() === 'native' && tf.engine().state.gradientDepth > 0;
}

function fusedConv2d(original: typeof tf.fused.conv2d): typeof tf.fused.conv2d {
  return ((args: FusedConvArgs) => {
    const { x, filter, bias, strides, pad, dimRoundingMode } = args;
    const takes = training(args.activation) && x instanceof tf.Tensor && x.rank === 4 && filter instanceof tf.Tensor && filter.rank === 4
      && isFloat(x, filter) && (args.dataFormat ?? 'NHWC') === 'NHWC' && isOne(args.dilations) && !args.preluActivationWeights
      && channelBias(bias, filter.shape[3]);
    if (!takes) return original(args);
    const y = tf.engine().runKernel(CONV_BIAS_RELU, { x, filter, bias: bias as tf.Tensor }, { strides, pad, dimRoundingMode, dataFormat: 'NHWC', dilations: [1, 1] } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    const tape = depthOneTape(false);
    if (tape !== null) reluOutputs.set(y.dataId, tape);
    return y;
  }) as typeof tf.fused.conv2d;
}

function fusedMatMul(original: typeof tf.fused.matMul): typeof tf.fused.matMul {
  return ((args: FusedMatMulArgs) => {
    const { a, b, bias } = args;
    const transposeA = args.transposeA ?? false;
    const transposeB = args.transposeB ?? false;
    const takes = training(args.activation) && a instanceof tf.Tensor && a.rank === 2 && b instanceof tf.Tensor && b.rank === 2
      && isFloat(a, b) && !args.preluActivationWeights && channelBias(bias, b.shape[transposeB ? 0 : 1]!);
    if (!takes) return original(args);
    return tf.engine().runKernel(MATMUL_BIAS_RELU, { a, b, bias: bias as tf.Tensor }, { transposeA, transposeB } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }) as typeof tf.fused.matMul;
}

let installed = false;

/**
 * Registers the fused kernels on `native` (each falls back to wasm's fused
 * kernel where the native one does not cover a case), their gradients, and
 * the routing in `tf.fused`. Once per process.
 */
export function installFusedLayers(addon: NativeAddon, make: { conv: (fallback: Fallback) => tf.KernelFunc; matMul: (fallback: Fallback) => tf.KernelFunc }): void {
  if (installed) return;
  installed = true;
  const wasmKernel = (name: string): Fallback => tf.getKernel(name, 'wasm')!.kernelFunc as unknown as Fallback;
  tf.registerKernel({ kernelName: CONV_BIAS_RELU, backendName: 'native', kernelFunc: reluKernel(make.conv(wasmKernel(tf.FusedConv2D))) });
  tf.registerKernel({ kernelName: MATMUL_BIAS_RELU, backendName: 'native', kernelFunc: reluKernel(make.matMul(wasmKernel(tf._FusedMatMul))) });
  tf.registerKernel({ kernelName: RELU_GRAD_BIAS, backendName: 'native', kernelFunc: reluGradBiasKernel(addon) });
  for (const [name, wrap] of [[tf.MaxPool, markPoolOfRelu], [tf.MaxPoolGrad, (k: tf.KernelFunc) => poolGradThroughRelu(addon, k)]] as const) {
    const config = tf.getKernel(name, 'native')!;
    tf.unregisterKernel(name, 'native');
    tf.registerKernel({ ...config, kernelFunc: wrap(config.kernelFunc) });
  }
  registerGradients();
  const fused = tf.fused as { conv2d: typeof tf.fused.conv2d; matMul: typeof tf.fused.matMul };
  fused.conv2d = fusedConv2d(fused.conv2d);
  fused.matMul = fusedMatMul(fused.matMul);
}
