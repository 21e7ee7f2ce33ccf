import * as tf from '@tensorflow/tfjs-core';
import { fastTransposedMatMul } from './batch-mat-mul';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter';
import { fastConv2DBackpropInput } from './conv2d-backprop-input';
import { fastGather } from './gather';
import { identityConfig } from './identity';
import { maxPoolGradConfig } from './max-pool-grad';
import { fastLeadingAxesSum } from './sum';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum';

/** Training kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks. */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, unsortedSegmentSumConfig];

/** Package kernels that give wrong results, replaced by ours (each file says what is wrong). */
export const WASM_CORRECTED_KERNELS: readonly tf.KernelConfig[] = [maxPoolGradConfig];

/** Package kernels replaced by faster ones that compute the same thing. */
export const WASM_FASTER_KERNELS: readonly tf.KernelConfig[] = [identityConfig];

/** Package kernels we wrap with a faster route for their slow cases. */
const FAST_ROUTES: ReadonlyArray<{ kernelName: string; wrap: (original: tf.KernelConfig) => tf.KernelConfig }> = [
  { kernelName: tf.BatchMatMul, wrap: fastTransposedMatMul },
  { kernelName: tf.Conv2DBackpropInput, wrap: fastConv2DBackpropInput },
  { kernelName: tf.Sum, wrap: fastLeadingAxesSum },
  { kernelName: tf.GatherV2, wrap: fastGather },
];

/** The package's own kernels, kept so that ours can be switched off (benchmarks compare both). */
const packageKernels = new Map<string, tf.KernelConfig>();

function packageKernel(kernelName: string): tf.KernelConfig {
  if (!packageKernels.has(kernelName)) {
    const original = tf.getKernel(kernelName, 'wasm');
    tf.util.assert(original !== undefined, () => `wasm kernel '${kernelName}' is not registered`);
    packageKernels.set(kernelName, { ...original!, backendName: 'wasm' });
  }
  return packageKernels.get(kernelName)!;
}

function replaceKernel(config: tf.KernelConfig): void {
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel(config);
}

/**
 * Installs tfleet's corrected kernels and fast routes over the package's
 * (`enabled`), or restores the package's own kernels.
 */
export function useTfleetKernels(enabled: boolean): void {
  for (const config of [...WASM_CORRECTED_KERNELS, ...WASM_FASTER_KERNELS]) replaceKernel(enabled ? config : packageKernel(config.kernelName));
  for (const { kernelName, wrap } of FAST_ROUTES) {
    const original = packageKernel(kernelName);
    replaceKernel(enabled ? wrap(original) : original);
  }
}

let registered = false;

/**
 * Registers the missing wasm training kernels, the corrected ones and the fast backward routes,
 * once; kernels the package gains later are left alone.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') === undefined) tf.registerKernel(config);
  }
  useTfleetKernels(true);
}
