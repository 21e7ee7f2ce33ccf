import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend } from './primitives';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * One window position (a run of C channels at `p`): each channel still open
 * whose value equals its window's maximum takes the window's dy and closes.
 * Branch-free, so that the ~1-in-4 hits of a 2×2 pool cost no mispredictions.
 */
function routeAtMaximum(xs: Float32Array, ys: Float32Array, dys: Float32Array, dx: Float32Array, p: number, o: number, C: number, open: Float32Array): void {
  for (let d = 0; d < C; d++) {
    const hit = open[d] * +(xs[p + d] === ys[o + d]);
    dx[p + d] += hit * dys[o + d];
    open[d] -= hit;
  }
}

/**
 * The 2×2, stride-2 pool with every window inside the input (Keras's
 * default pool on even sizes, or odd ones under VALID): windows do not
 * overlap, so each output element writes its window's four positions once,
 * with no zero-fill and no accumulation: about twice as fast as the general
 * loop below on the CNN's first pool (the two timed in turn, one-off). The
 * first position equal to the maximum takes dy; since the maximum is one of
 * the four, the last takes it when the first three do not.
 */
function routeDisjoint2x2(xs: Float32Array, ys: Float32Array, dys: Float32Array, dx: Float32Array, batch: number, H: number, W: number, C: number, OH: number, OW: number): void {
  const down = W * C;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const p = ((b * H + 2 * oy) * W + 2 * ox) * C;
        const o = ((b * OH + oy) * OW + ox) * C;
        for (let d = 0; d < C; d++) {
          const y = ys[o + d];
          const g = dys[o + d];
          const p0 = p + d;
          const p1 = p0 + C;
          const p2 = p0 + down;
          const p3 = p2 + C;
          const h0 = +(xs[p0] === y);
          const h1 = (1 - h0) * +(xs[p1] === y);
          const h2 = (1 - h0 - h1) * +(xs[p2] === y);
          dx[p0] = h0 * g;
          dx[p1] = h1 * g;
          dx[p2] = h2 * g;
          dx[p3] = (1 - h0 - h1 - h2) * g;
        }
      }
    }
  }
}

/**
 * The gradient of a 2-D max pool: each window's dy goes to the first
 * position (row-major) that holds the window's maximum, as on the cpu backend.
 *
 * Replaces tfjs-backend-wasm 4.22's MaxPoolGrad, which starts each window's
 * running maximum at 0 instead of −∞: a window of negative values (a pool
 * after a conv without ReLU) passes no gradient at all. The forward pass's
 * output is an input of this kernel, so the maximum is not searched again:
 * one pass compares each position with it. Selecting a position is a compare
 * with no arithmetic to speak of, so a loop over the wasm heap is the fast
 * primitive here (`bench/wasm-backward.ts` times it against the package's kernel).
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.input!;
  const dy = inputs.dy!;
  const y = inputs.output!;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(x.shape, 'float32');
  // Views are taken after makeOutput, which may grow (and move) the heap.
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const ys = backend.typedArrayFromHeap(y) as Float32Array;
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const disjoint2x2 = filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 && top === 0 && left === 0 && 2 * outHeight <= inHeight && 2 * outWidth <= inWidth;
  if (disjoint2x2) {
    // Rows or columns past the last window (odd sizes) get no gradient.
    if (2 * outHeight < inHeight || 2 * outWidth < inWidth) dx.fill(0);
    routeDisjoint2x2(xs, ys, dys, dx, batchSize, inHeight, inWidth, C, outHeight, outWidth);
    return out;
  }
  dx.fill(0);
  // Channels innermost: each window position is one contiguous run of C values.
  const open = new Float32Array(C);
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * C;
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = Math.max(0, oy * strideHeight - top);
      const r1 = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const c0 = Math.max(0, ox * strideWidth - left);
        const c1 = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        const o = ((b * outHeight + oy) * outWidth + ox) * C;
        open.fill(1);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) routeAtMaximum(xs, ys, dys, dx, xBase + (r * inWidth + c) * C, o, C, open);
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
