import * as tf from '@tensorflow/tfjs-core';
import { NativeAddon } from '../../../shared/native-addon';
import { Args, heap, isFloat, offset } from './kernels';

/**
 * tfjs's Adam as one kernel per variable on the native backend. Its
 * `AdamOptimizer` runs thirteen element-wise ops per variable and step
 * (`model.fit` with `tf.train.adam`), each a pass over the variable plus a
 * few microseconds of tfjs's own cost per op. `TfleetAdam` makes the same
 * float32 operations in the same order in one pass: its values are wasm's
 * bit for bit, except that subnormal moments are flushed to zero (see
 * `FlushSubnormals` in src/kernels.cc). On the MLP 784-256-128-10 a
 * `model.fit` step went from 4.98 to 3.74 ms of CPU. On every other backend
 * `applyGradients` is tfjs's own.
 */

export const ADAM = 'TfleetAdam';

/**
 * Adam's parameters: [value, m, v, gradient, c1, c2, newValue, newM, newV, n,
 * beta1, beta2, 1 − beta1, 1 − beta2, epsilon, −learningRate] (the first
 * nine are byte offsets; c1, c2: 1 − beta^t as float32 scalars).
 */
const adamParams = new Float64Array(16);

interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

function adamKernel(addon: NativeAddon): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const { value, m, v, gradient, c1, c2 } = inputs;
    const { beta1, beta2, epsilon, learningRate } = args.attrs as unknown as AdamAttrs;
    const shape = value!.shape;
    tf.util.assert(isFloat(value!, m!, v!, gradient!, c1!, c2!) && [m!, v!, gradient!].every((t) => tf.util.arraysEqual(t.shape, shape)),
      () => `${ADAM}: value, m, v and gradient must be float32 of one shape`);
    const outs = [0, 1, 2].map(() => backend.makeOutput(shape, 'float32'));
    const n = tf.util.sizeFromShape(shape);
    if (n > 0) {
      const p = adamParams;
      [value!, m!, v!, gradient!, c1!, c2!, ...outs].forEach((t, i) => { p[i] = offset(backend, t); });
      p[9] = n;
      // The constants as tfjs's ops get them: JavaScript numbers, rounded to float32 in the kernel.
      p[10] = beta1; p[11] = beta2; p[12] = 1 - beta1; p[13] = 1 - beta2; p[14] = epsilon; p[15] = -learningRate;
      addon.adamFloat(heap(backend), p);
    }
    return outs;
  }) as unknown as tf.KernelFunc;
}

/** AdamOptimizer's state, as tfjs keeps it (its fields are protected, not private). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable }>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable }>;
  incrementIterations(): void;
}

type Gradients = tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>;

/** tfjs's applyGradients with each variable's thirteen ops replaced by one {@link ADAM} kernel. */
function applyFused(this: AdamState, variableGradients: Gradients): void {
  const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  const attrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, learningRate: this.learningRate };
  tf.tidy(() => {
    const c1 = tf.sub(1, this.accBeta1);
    const c2 = tf.sub(1, this.accBeta2);
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      this.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      this.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
      if (gradient == null) return;
      const m = this.accumulatedFirstMoment[i].variable;
      const v = this.accumulatedSecondMoment[i].variable;
      const [newValue, newM, newV] = tf.engine().runKernel(ADAM, { value, m, v, gradient, c1, c2 }, attrs) as tf.Tensor[];
      m.assign(newM);
      v.assign(newV);
      value.assign(newValue);
    });
    this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
    this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
  });
  this.incrementIterations();
}

let installed = false;

/** Registers {@link ADAM} on `native` and routes AdamOptimizer's float32 steps there on that backend. Once per process. */
export function installFusedAdam(addon: NativeAddon): void {
  if (installed) return;
  installed = true;
  tf.registerKernel({ kernelName: ADAM, backendName: 'native', kernelFunc: adamKernel(addon) });
  const proto = tf.AdamOptimizer.prototype as unknown as { applyGradients(g: Gradients): void };
  const original = proto.applyGradients;
  proto.applyGradients = function (this: AdamState, variableGradients: Gradients): void {
    const gradients = Array.isArray(variableGradients) ? variableGradients.map((g) => g.tensor) : Object.values(variableGradients);
    const fusable = tf.getBackend() === 'native' && gradients.every((g) => g == null || g.dtype === 'float32');
    return fusable ? applyFused.call(this, variableGradients) : original.call(this, variableGradients);
  };
}
