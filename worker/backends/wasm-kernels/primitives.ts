import * as tf from '@tensorflow/tfjs-core';

/** The slice of the wasm backend's interface that our kernels use. */
export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
  disposeData(dataId: tf.DataId): boolean;
}

/**
 * Runs another wasm kernel directly on tensor infos (not through the engine,
 * so nothing is recorded on a gradient tape and intermediates are ours to free).
 */
export function runWasmKernel(name: string, backend: WasmBackend, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  tf.util.assert(kernel !== undefined, () => `wasm kernel '${name}' is not registered`);
  return kernel!.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
}

/** Frees intermediate tensor infos created by {@link runWasmKernel}. */
export function disposeInfos(backend: WasmBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * The same storage read with another shape of the same size (no copy, no
 * reference taken): for a kernel's own intermediates and inputs it passes on.
 */
export function viewAs(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

export function transposeInfo(backend: WasmBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return runWasmKernel('Transpose', backend, { x }, { perm });
}

/** Attributes shared by the 2-D convolution gradient kernels (NHWC only here). */
export interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
