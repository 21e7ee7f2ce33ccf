import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../worker/backends/select';
import { Benchmark, BenchRow, timeKernel } from './harness';

const REPEATS = 7;
/** tfjs's cpu kernel takes seconds per call here: one timed call is enough to compare. */
const CPU_REPEATS = 1;

interface Case {
  label: string;
  flops: number;
  make: () => tf.NamedTensorMap;
  run: (inputs: tf.NamedTensorMap) => tf.Tensor;
}

function cases(): Case[] {
  const conv = (n: number, h: number, ci: number, co: number, f: number): Case => {
    const oh = h - f + 1;
    return {
      label: `Conv2DBackpropFilter x[${n},${h},${h},${ci}] ${f}×${f}→${co}`,
      flops: 2 * n * oh * oh * f * f * ci * co,
      make: () => ({ x: tf.randomNormal([n, h, h, ci]), dy: tf.randomNormal([n, oh, oh, co]) }),
      run: (inputs) => tf.engine().runKernel('Conv2DBackpropFilter', inputs, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', filterShape: [f, f, ci, co] }) as tf.Tensor,
    };
  };
  return [conv(64, 28, 1, 32, 3), conv(64, 13, 32, 64, 3)];
}

export const wasmKernels: Benchmark = {
  name: 'wasm-kernels',
  description: `Training kernels added for the wasm backend against the same kernel on cpu, batch 64, the CNN's two conv layers; median of ${REPEATS} on wasm, ${CPU_REPEATS} timed call on cpu.`,
  async run() {
    const rows: BenchRow[] = [];
    const ratios: Record<string, number> = {};
    const byBackend: Record<string, number[]> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await selectBackend(backend);
      byBackend[backend] = cases().map((c) => {
        const ms = timeKernel(c.make, c.run, backend === 'cpu' ? CPU_REPEATS : REPEATS);
        rows.push({ case: `${c.label} on ${backend}`, value: ms, unit: 'ms', note: `${(c.flops / ms / 1e6).toFixed(2)} GFLOP/s` });
        return ms;
      });
    }
    cases().forEach((c, i) => (ratios[`${c.label}: cpu time / wasm time`] = byBackend.cpu[i] / byBackend.wasm[i]));
    return { name: this.name, description: this.description, rows, ratios };
  },
};
