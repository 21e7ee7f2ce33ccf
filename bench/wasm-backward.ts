import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../worker/backends/select';
import { useTfleetKernels } from '../worker/backends/wasm-kernels/register';
import { Benchmark, BenchRow, timeKernel } from './harness';

const REPEATS = 9;

interface Case {
  label: string;
  flops: number;
  kernel: string;
  shapes: Record<string, number[]>;
  attrs: tf.NamedAttrMap;
  /** Whether tfleet replaces or wraps this kernel (the forward cases are the yardstick). */
  routed: boolean;
  /** Inputs computed from the random ones, where the kernel relies on their relation (a pool's forward output). */
  derived?: (inputs: Record<string, tf.Tensor>) => Record<string, tf.Tensor>;
}

/** The cases the issue measured (a dense layer 3136→1024 and a 5×5 conv 32→64, batch 64), the CNN's max-pool gradient and conv bias gradient, and a clone of its largest weight. */
const CASES: Case[] = [
  { label: 'dense forward x[64,3136]·W[3136,1024]', flops: 2 * 64 * 3136 * 1024, kernel: 'BatchMatMul', shapes: { a: [64, 3136], b: [3136, 1024] }, attrs: { transposeA: false, transposeB: false }, routed: false },
  { label: 'dense weight gradient xᵀ·dy (transposeA)', flops: 2 * 64 * 3136 * 1024, kernel: 'BatchMatMul', shapes: { a: [64, 3136], b: [64, 1024] }, attrs: { transposeA: true, transposeB: false }, routed: true },
  { label: 'dense input gradient dy·Wᵀ (transposeB)', flops: 2 * 64 * 3136 * 1024, kernel: 'BatchMatMul', shapes: { a: [64, 1024], b: [3136, 1024] }, attrs: { transposeA: false, transposeB: true }, routed: true },
  { label: 'conv 5×5 32→64 forward x[64,14,14,32]', flops: 2 * 64 * 14 * 14 * 25 * 32 * 64, kernel: 'Conv2D', shapes: { x: [64, 14, 14, 32], filter: [5, 5, 32, 64] }, attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] }, routed: false },
  { label: 'max pool 2×2 gradient x[64,26,26,32] (package kernel loses negative windows)', flops: 64 * 26 * 26 * 32, kernel: 'MaxPoolGrad', shapes: { dy: [64, 13, 13, 32], input: [64, 26, 26, 32] }, attrs: { filterSize: [2, 2], strides: [2, 2], pad: 'valid' }, routed: true, derived: ({ input }) => ({ output: tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid') }) },
  { label: 'conv bias gradient: sum of dy[64,26,26,32] over axes 0,1,2', flops: 64 * 26 * 26 * 32, kernel: 'Sum', shapes: { x: [64, 26, 26, 32] }, attrs: { axis: [0, 1, 2], keepDims: false }, routed: true },
  { label: 'identity (clone) of the CNN\'s dense kernel [1600,128]', flops: 1600 * 128, kernel: 'Identity', shapes: { x: [1600, 128] }, attrs: {}, routed: true },
  { label: 'conv 5×5 32→64 Conv2DBackpropInput', flops: 2 * 64 * 14 * 14 * 25 * 32 * 64, kernel: 'Conv2DBackpropInput', shapes: { dy: [64, 14, 14, 64], filter: [5, 5, 32, 64] }, attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', inputShape: [64, 14, 14, 32] }, routed: true },
];

function measure(c: Case): number {
  const make = () => {
    const inputs = Object.fromEntries(Object.entries(c.shapes).map(([k, s]) => [k, tf.randomNormal(s)]));
    return c.derived ? { ...inputs, ...c.derived(inputs) } : inputs;
  };
  return timeKernel(make, (inputs) => tf.engine().runKernel(c.kernel, inputs, c.attrs) as tf.Tensor, REPEATS);
}

export const wasmBackward: Benchmark = {
  name: 'wasm-backward',
  description: `Backward kernels on wasm through the package's own kernel and through tfleet's (explicit transpose, then the fast product; the input gradient as a convolution with the rotated filter; a max-pool gradient that is right for negative windows; a sum over leading axes as a 2-D reduction), batch 64, median of ${REPEATS}, one process. GFLOP/s of the max-pool and sum rows counts one operation per input element, of the identity row one per element.`,
  async run() {
    await selectBackend('wasm');
    const rows: BenchRow[] = [];
    const ratios: Record<string, number> = {};
    for (const c of CASES) {
      const times: Record<string, number> = {};
      for (const route of c.routed ? ['package', 'tfleet'] : ['package']) {
        useTfleetKernels(route === 'tfleet');
        times[route] = measure(c);
        rows.push({ case: `${c.label}, ${route} kernel`, value: times[route], unit: 'ms', note: `${(c.flops / times[route] / 1e6).toFixed(1)} GFLOP/s` });
      }
      if (c.routed) ratios[`${c.label}: package time / tfleet time`] = times.package / times.tfleet;
    }
    useTfleetKernels(true);
    return { name: this.name, description: this.description, rows, ratios };
  },
};
