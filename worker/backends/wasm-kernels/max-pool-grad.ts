import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend } from './primitives';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * The gradient of a 2-D max pool: each window's dy goes to the first
 * position (row-major) of the window's maximum, as on the cpu backend.
 *
 * Replaces tfjs-backend-wasm 4.22's MaxPoolGrad, which starts each window's
 * running maximum at 0 instead of −∞: a window of negative values (a pool
 * after a conv without ReLU) passes no gradient at all. Selecting one
 * position per window is a compare-and-branch pass with no arithmetic, so a
 * loop over the wasm heap is the fast primitive here (`bench/wasm-kernels.ts`
 * times it against the package's kernel).
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.input!;
  const dy = inputs.dy!;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(x.shape, 'float32');
  // Views are taken after makeOutput, which may grow (and move) the heap.
  const xs = backend.typedArrayFromHeap(x);
  const dys = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * C;
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = Math.max(0, oy * strideHeight - top);
      const r1 = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const c0 = Math.max(0, ox * strideWidth - left);
        const c1 = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * C;
        for (let d = 0; d < C; d++) {
          let best = -Infinity;
          let at = -1;
          for (let r = r0; r < r1; r++) {
            for (let c = c0; c < c1; c++) {
              const i = xBase + (r * inWidth + c) * C + d;
              if (xs[i] > best) {
                best = xs[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += dys[dyBase + d];
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
