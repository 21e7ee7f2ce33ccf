import * as tf from '@tensorflow/tfjs-core';
import { ConvGradAttrs, WasmBackend, disposeInfos, runWasmKernel, transposeInfo } from './primitives';

interface Attrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

/**
 * Wraps the package's Conv2DBackpropInput: for stride 1 the input gradient
 * is a forward (XNNPACK) convolution of dy with the filter rotated by 180°
 * and its channels swapped,
 *
 *   dx[n, h, w, ci] = Σ_{fh, fw, co} dy[n, h − fh + top, w − fw + left, co] · W[fh, fw, ci, co],
 *
 * with dy padded by (F − 1 − forward padding) on each side. Strided
 * convolutions would need a zero-dilated dy; they keep the package's kernel.
 */
export function fastConv2DBackpropInput(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const dy = inputs.dy!;
    const filter = inputs.filter!;
    const filterShape = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
    if (attrs.dataFormat === 'NCHW' || info.strideHeight !== 1 || info.strideWidth !== 1) {
      return original.kernelFunc(args as unknown as tf.KernelFunc['arguments']) as tf.TensorInfo;
    }
    const [FH, FW] = filterShape;
    const { top, bottom, left, right } = info.padInfo;
    const reversed = runWasmKernel('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const rotated = transposeInfo(backend, reversed, [0, 1, 3, 2]);
    const dx = runWasmKernel('Conv2D', backend, { x: dy, filter: rotated }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [FH - 1 - top, FH - 1 - bottom], [FW - 1 - left, FW - 1 - right], [0, 0]],
      dataFormat: 'NHWC',
    });
    disposeInfos(backend, reversed, rotated);
    return dx;
  };
  return { ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
