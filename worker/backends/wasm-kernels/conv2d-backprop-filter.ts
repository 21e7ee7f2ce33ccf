import * as tf from '@tensorflow/tfjs-core';
import { ConvGradAttrs, WasmBackend, disposeInfos, runWasmKernel, transposeInfo } from './primitives';

interface Attrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/**
 * The filter gradient of a 2-D convolution, as one fast (XNNPACK) product,
 * of one of two forms (the patch product for few input channels):
 *
 *   dW[fh, fw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + fh − pad, ow·s + fw − pad, ci] · dy[n, oh, ow, co]
 *
 * is a convolution of x with channels and batch swapped ([Ci, H, W, N]) by
 * dy used as a filter ([OH, OW, N, Co]) dilated by the forward stride; its
 * output [Ci, FH, FW, Co] is transposed to [FH, FW, Ci, Co]. Rows of x that
 * the forward pass never read (VALID padding with a stride) are cropped.
 * Gradients of dilated convolutions are not defined by tfjs, so none here.
 */
function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const dy = inputs.dy!;
  tf.util.assert(attrs.dataFormat !== 'NCHW', () => "wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only");
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  return info.inChannels <= PATCH_ROUTE_MAX_IN_CHANNELS ? viaPatchProduct(backend, x, dy, info) : viaConvolution(backend, x, dy, info, attrs);
}

/**
 * Input channels up to which {@link viaPatchProduct} is used. Measured by
 * `npm run bench -- wasm-kernels` (batch 64, 3×3): on one channel 28×28→32
 * the patch product takes a third of the time of {@link viaConvolution},
 * whose gradient convolution then has one input channel and a filter as
 * large as the image; on 3 channels neither form wins clearly, and on 32
 * channels 13×13→64 the convolution is as fast or faster.
 */
export const PATCH_ROUTE_MAX_IN_CHANNELS = 2;

/**
 * dW as one matrix product: Pᵀ · dy, where Pᵀ[(fh, fw, ci), (n, oh, ow)]
 * holds the input value each filter tap saw at each output position (0 in
 * padding), written here straight in transposed layout.
 */
function viaPatchProduct(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const R = N * OH * OW;
  const K = FH * FW * Ci;
  const patchesT = backend.makeOutput([1, K, R], 'float32');
  // Views are taken after makeOutput, which may grow (and move) the heap.
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const pt = backend.typedArrayFromHeap(patchesT) as Float32Array;
  for (let fh = 0; fh < FH; fh++) {
    for (let fw = 0; fw < FW; fw++) {
      for (let ci = 0; ci < Ci; ci++) {
        const row = ((fh * FW + fw) * Ci + ci) * R;
        fillTapRow(xs, pt, row, { N, H, W, Ci, OH, OW, sh, sw, dh: fh - top, dw: fw - left, ci });
      }
    }
  }
  const dy3 = runWasmKernel('Reshape', backend, { x: dy }, { shape: [1, R, Co] });
  const product = runWasmKernel('BatchMatMul', backend, { a: patchesT, b: dy3 }, { transposeA: false, transposeB: false });
  const dW = runWasmKernel('Reshape', backend, { x: product }, { shape: [FH, FW, Ci, Co] });
  disposeInfos(backend, patchesT, dy3, product);
  return dW;
}

interface Tap {
  N: number; H: number; W: number; Ci: number; OH: number; OW: number; sh: number; sw: number;
  /** Offset of this tap from the output position's top-left input pixel (padding subtracted). */
  dh: number; dw: number; ci: number;
}

/** Writes one row of Pᵀ: the input value under one filter tap at every output position. */
function fillTapRow(xs: Float32Array, pt: Float32Array, row: number, t: Tap): void {
  let r = row;
  for (let n = 0; n < t.N; n++) {
    for (let oh = 0; oh < t.OH; oh++) {
      const ih = oh * t.sh + t.dh;
      if (ih < 0 || ih >= t.H) {
        pt.fill(0, r, r + t.OW);
        r += t.OW;
        continue;
      }
      const base = ((n * t.H + ih) * t.W) * t.Ci + t.ci;
      for (let ow = 0; ow < t.OW; ow++, r++) {
        const iw = ow * t.sw + t.dw;
        pt[r] = iw >= 0 && iw < t.W ? xs[base + iw * t.Ci] : 0;
      }
    }
  }
}

/**
 * dW as one XNNPACK convolution: x with channels and batch swapped
 * ([Ci, H, W, N]) convolved by dy used as a filter ([OH, OW, N, Co]).
 */
function viaConvolution(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, attrs: Attrs): tf.TensorInfo {
  const [, H, W] = x.shape;
  const [FH, FW] = attrs.filterShape;
  const { top, left } = info.padInfo;
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

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
