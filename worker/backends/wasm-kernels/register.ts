import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum';

/** Training kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks. */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, unsortedSegmentSumConfig];

/** Registers the missing wasm training kernels once; kernels the package gains later are left alone. */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') === undefined) tf.registerKernel(config);
  }
}
