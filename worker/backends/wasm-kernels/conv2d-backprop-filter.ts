import * as tf from '@tensorflow/tfjs-core';
import { ConvGradAttrs, WasmBackend, disposeInfos, runWasmKernel, transposeInfo, viewAs } from './primitives';

interface Attrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/** How the filter gradient is computed; {@link conv2DBackpropFilterRoute} picks one per shape. */
export type FilterGradRoute = 'convolution' | 'patches';

/**
 * The route that hands XNNPACK the smaller operand to pack. Both routes
 * contract over every output position M = N·OH·OW, and XNNPACK repacks the
 * operand it treats as weights on every call, since a step's tensors are all
 * new: the convolution route packs dy ([M, Co]); the patches route writes
 * and packs the patch matrix ([M, K], K = FH·FW·Ci) and transposes dy. The
 * patches route pays off when K is well under Co: with fresh inputs
 * (`bench/wasm-kernels.ts`, two runs) it was 1.2–1.45× as fast for a 3×3
 * filter over one channel into 32 (K = 9), 0.9× for three channels into 32
 * (K = 27), and about half as fast for 32 channels into 64.
 */
export function conv2DBackpropFilterRoute(filterShape: readonly number[]): FilterGradRoute {
  const [FH, FW, Ci, Co] = filterShape;
  return 2 * FH * FW * Ci < Co ? 'patches' : 'convolution';
}

/** The geometry both routes need. */
function geometry(x: tf.TensorInfo, attrs: Attrs) {
  tf.util.assert(attrs.dataFormat !== 'NCHW', () => "wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only");
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  return { info, top: info.padInfo.top, left: info.padInfo.left };
}

/**
 * The filter gradient as one fast (XNNPACK) convolution:
 *
 *   dW[fh, fw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + fh − pad, ow·s + fw − pad, ci] · dy[n, oh, ow, co]
 *
 * is a convolution of x with channels and batch swapped ([Ci, H, W, N]) by
 * dy used as a filter ([OH, OW, N, Co]) dilated by the forward stride; its
 * output [Ci, FH, FW, Co] is transposed to [FH, FW, Ci, Co]. Rows of x that
 * the forward pass never read (VALID padding with a stride) are cropped.
 * Gradients of dilated convolutions are not defined by tfjs, so none here.
 */
function byConvolution(x: tf.TensorInfo, dy: tf.TensorInfo, backend: WasmBackend, attrs: Attrs): tf.TensorInfo {
  const { info, top, left } = geometry(x, attrs);
  const [, H, W] = x.shape;
  const [FH, FW] = attrs.filterShape;
  const { strideHeight: sh, strideWidth: sw, outHeight: OH, outWidth: OW } = info;
  // Bottom/right padding that makes the gradient convolution's output exactly FH × FW.
  let bottom = FH + (OH - 1) * sh - H - top;
  let right = FW + (OW - 1) * sw - W - left;
  const temps: tf.TensorInfo[] = [];
  let xUsed = x;
  if (bottom < 0 || right < 0) {
    xUsed = runWasmKernel('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [-1, H + Math.min(0, bottom), W + Math.min(0, right), -1] });
    temps.push(xUsed);
    bottom = Math.max(0, bottom);
    right = Math.max(0, right);
  }
  const xT = transposeInfo(backend, xUsed, [3, 1, 2, 0]);
  const dyT = transposeInfo(backend, dy, [1, 2, 0, 3]);
  temps.push(xT, dyT);
  const convOut = runWasmKernel('Conv2D', backend, { x: xT, filter: dyT }, {
    strides: [1, 1], dilations: [sh, sw], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC',
  });
  temps.push(convOut);
  const dW = transposeInfo(backend, convOut, [1, 2, 0, 3]);
  disposeInfos(backend, ...temps);
  return dW;
}

/**
 * Writes the patch matrix P[M, FH·FW·Ci] (row m = (n, oh, ow) holds the
 * input values its filter window reads, zeros where it reads padding). A
 * gather with no arithmetic: a loop over the wasm heap is the primitive.
 */
function writePatches(xs: Float32Array, p: Float32Array, x: readonly number[], info: tf.backend_util.Conv2DInfo, top: number, left: number): void {
  const [N, H, W, Ci] = x;
  const { filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw, outHeight: OH, outWidth: OW } = info;
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let fh = 0; fh < FH; fh++) {
          const ih = oh * sh + fh - top;
          for (let fw = 0; fw < FW; fw++) {
            const iw = ow * sw + fw - left;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              for (let c = 0; c < Ci; c++) p[at++] = 0;
            } else {
              const from = ((n * H + ih) * W + iw) * Ci;
              for (let c = 0; c < Ci; c++) p[at++] = xs[from + c];
            }
          }
        }
      }
    }
  }
}

/**
 * The filter gradient as a matrix product over patches, dWᵀ[Co, K] =
 * dyᵀ[Co, M] · P[M, K] with K = FH·FW·Ci, then a transpose of the small
 * result. dy goes in as the product's left operand, which XNNPACK reads as
 * it is; only P (small when K is) is packed.
 */
function byPatches(x: tf.TensorInfo, dy: tf.TensorInfo, backend: WasmBackend, attrs: Attrs): tf.TensorInfo {
  const { info, top, left } = geometry(x, attrs);
  const [FH, FW, Ci, Co] = attrs.filterShape;
  const M = info.batchSize * info.outHeight * info.outWidth;
  const K = FH * FW * Ci;
  const patches = backend.makeOutput([1, M, K], 'float32');
  // Views are taken after makeOutput, which may grow (and move) the heap.
  writePatches(backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(patches) as Float32Array, x.shape, info, top, left);
  const dyT = transposeInfo(backend, viewAs(dy, [M, Co]), [1, 0]);
  const dWT = runWasmKernel('BatchMatMul', backend, { a: viewAs(dyT, [1, Co, M]), b: patches }, { transposeA: false, transposeB: false });
  const dW = transposeInfo(backend, viewAs(dWT, [Co, K]), [1, 0]);
  disposeInfos(backend, patches, dyT, dWT);
  return viewAs(dW, [FH, FW, Ci, Co]);
}

/** Computes the filter gradient by the given route (benchmarks and tests compare both). */
export function conv2DBackpropFilterBy(route: FilterGradRoute, x: tf.TensorInfo, dy: tf.TensorInfo, backend: WasmBackend, attrs: Attrs): tf.TensorInfo {
  return route === 'patches' ? byPatches(x, dy, backend, attrs) : byConvolution(x, dy, backend, attrs);
}

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  return conv2DBackpropFilterBy(conv2DBackpropFilterRoute(attrs.filterShape), inputs.x!, inputs.dy!, backend, attrs);
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
