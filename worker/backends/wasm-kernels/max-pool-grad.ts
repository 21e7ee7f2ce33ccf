import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend } from './primitives';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Updates each channel's running maximum (first wins on ties) with the values at `base..base+C`. */
function scanPosition(xs: Float32Array, base: number, C: number, best: Float32Array, at: Int32Array): void {
  for (let d = 0; d < C; d++) {
    const v = xs[base + d];
    if (v > best[d]) {
      best[d] = v;
      at[d] = base + d;
    }
  }
}

/** Routes each channel's dy to the position of its window's maximum. */
function addAtMaxima(dx: Float32Array, dys: Float32Array, dyBase: number, C: number, at: Int32Array): void {
  for (let d = 0; d < C; d++) if (at[d] >= 0) dx[at[d]] += dys[dyBase + d];
}

/**
 * The gradient of a 2-D max pool: each window's dy goes to the first
 * position (row-major) of the window's maximum, as on the cpu backend.
 *
 * Replaces tfjs-backend-wasm 4.22's MaxPoolGrad, which starts each window's
 * running maximum at 0 instead of −∞: a window of negative values (a pool
 * after a conv without ReLU) passes no gradient at all. Selecting one
 * position per window is a compare-and-branch pass with no arithmetic, so a
 * loop over the wasm heap is the fast primitive here (`bench/wasm-backward.ts`
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
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  // Channels innermost: each window position is one contiguous run of C
  // values, scanned against per-channel running maxima.
  const best = new Float32Array(C);
  const at = new Int32Array(C);
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * C;
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = Math.max(0, oy * strideHeight - top);
      const r1 = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const c0 = Math.max(0, ox * strideWidth - left);
        const c1 = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        best.fill(-Infinity);
        at.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) scanPosition(xs, xBase + (r * inWidth + c) * C, C, best, at);
        }
        addAtMaxima(dx, dys, ((b * outHeight + oy) * outWidth + ox) * C, C, at);
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
