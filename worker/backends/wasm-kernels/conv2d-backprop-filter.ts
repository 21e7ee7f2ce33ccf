import * as tf from '@tensorflow/tfjs-core';
import { ConvGradAttrs, WasmBackend, disposeInfos, runWasmKernel, transposeInfo } from './primitives';

interface Attrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/**
 * The filter gradient of a 2-D convolution, as one fast (XNNPACK) convolution:
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
