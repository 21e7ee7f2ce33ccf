import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../worker/backends/select';
import { FilterGradRoute, conv2DBackpropFilterBy, conv2DBackpropFilterRoute } from '../worker/backends/wasm-kernels/conv2d-backprop-filter';
import { WasmBackend } from '../worker/backends/wasm-kernels/primitives';
import { Benchmark, BenchRow, timeKernel } from './harness';

const REPEATS = 7;
/** tfjs's cpu kernel takes seconds per call here: one timed call is enough to compare. */
const CPU_REPEATS = 1;
const ROUTES: FilterGradRoute[] = ['convolution', 'patches'];

interface Case {
  label: string;
  flops: number;
  filterShape: [number, number, number, number];
  make: () => tf.NamedTensorMap;
}

function cases(): Case[] {
  const conv = (n: number, h: number, ci: number, co: number, f: number): Case => {
    const oh = h - f + 1;
    return {
      label: `Conv2DBackpropFilter x[${n},${h},${h},${ci}] ${f}×${f}→${co}`,
      flops: 2 * n * oh * oh * f * f * ci * co,
      filterShape: [f, f, ci, co],
      make: () => ({ x: tf.randomNormal([n, h, h, ci]), dy: tf.randomNormal([n, oh, oh, co]) }),
    };
  };
  // The CNN's two conv layers, and a first layer over RGB images.
  return [conv(64, 28, 1, 32, 3), conv(64, 13, 32, 64, 3), conv(64, 32, 3, 32, 3)];
}

function attrsOf(c: Case) {
  return { strides: [1, 1] as [number, number], pad: 'valid' as const, dataFormat: 'NHWC' as const, filterShape: c.filterShape };
}

function viaKernel(c: Case): (inputs: tf.NamedTensorMap) => tf.Tensor {
  return (inputs) => tf.engine().runKernel('Conv2DBackpropFilter', inputs, attrsOf(c)) as tf.Tensor;
}

function viaRoute(c: Case, route: FilterGradRoute): (inputs: tf.NamedTensorMap) => tf.Tensor {
  return (inputs) => {
    const backend = tf.backend() as WasmBackend;
    return tf.engine().makeTensorFromTensorInfo(conv2DBackpropFilterBy(route, inputs.x!, inputs.dy!, backend, attrsOf(c)));
  };
}

export const wasmKernels: Benchmark = {
  name: 'wasm-kernels',
  description: `Training kernels added for the wasm backend against the same kernel on cpu, batch 64, the CNN's two conv layers and an RGB first layer; median of ${REPEATS} on wasm, ${CPU_REPEATS} timed call on cpu. On wasm, both routes of the filter gradient (a convolution with dy as the filter; a product of dyᵀ with the patch matrix) are timed on each shape, with fresh inputs every call as in training.`,
  async run() {
    const rows: BenchRow[] = [];
    const ratios: Record<string, number> = {};
    const byBackend: Record<string, number[]> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await selectBackend(backend);
      byBackend[backend] = cases().map((c) => {
        const ms = timeKernel(c.make, viaKernel(c), backend === 'cpu' ? CPU_REPEATS : REPEATS);
        rows.push({ case: `${c.label} on ${backend}`, value: ms, unit: 'ms', note: `${(c.flops / ms / 1e6).toFixed(2)} GFLOP/s` });
        return ms;
      });
    }
    cases().forEach((c, i) => (ratios[`${c.label}: cpu time / wasm time`] = byBackend.cpu[i] / byBackend.wasm[i]));
    for (const c of cases()) {
      const times = ROUTES.map((route) => {
        const ms = timeKernel(c.make, viaRoute(c, route), REPEATS);
        const chosen = route === conv2DBackpropFilterRoute(c.filterShape) ? ' (the kernel\'s choice)' : '';
        rows.push({ case: `${c.label} on wasm by ${route}${chosen}`, value: ms, unit: 'ms', note: `${(c.flops / ms / 1e6).toFixed(2)} GFLOP/s` });
        return ms;
      });
      ratios[`${c.label}: convolution route time / patches route time`] = times[0] / times[1];
    }
    return { name: this.name, description: this.description, rows, ratios };
  },
};
