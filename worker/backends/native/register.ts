import * as tf from '@tensorflow/tfjs-core';
import { NativeAddon } from '../../../shared/native-addon';
import { binaryKernel, castKernel, sumKernel, unaryKernel } from './elementwise';
import { installFusedAdam } from './fused-adam';
import { installFusedLayers } from './fused-ops';
import { Fallback, conv2DBackpropFilterKernel, conv2DBackpropInputKernel, conv2DKernel, matMulKernel, poolGradKernel, poolKernel } from './kernels';

type KernelMaker = (addon: NativeAddon, fallback: Fallback) => tf.KernelFunc;

/** The kernels oneDNN runs; every other kernel of `native` is the wasm backend's own. */
const NATIVE_KERNELS: ReadonlyArray<{ kernelName: string; make: KernelMaker }> = [
  { kernelName: tf.Conv2D, make: conv2DKernel },
  { kernelName: tf.FusedConv2D, make: conv2DKernel },
  { kernelName: tf.Conv2DBackpropInput, make: conv2DBackpropInputKernel },
  { kernelName: tf.Conv2DBackpropFilter, make: conv2DBackpropFilterKernel },
  { kernelName: tf.BatchMatMul, make: matMulKernel },
  { kernelName: tf._FusedMatMul, make: matMulKernel },
  { kernelName: tf.MaxPool, make: (addon, fallback) => poolKernel(addon, true, fallback) },
  { kernelName: tf.AvgPool, make: (addon, fallback) => poolKernel(addon, false, fallback) },
  { kernelName: tf.MaxPoolGrad, make: (addon, fallback) => poolGradKernel(addon, true, fallback) },
  { kernelName: tf.AvgPoolGrad, make: (addon, fallback) => poolGradKernel(addon, false, fallback) },
  ...(['Add', 'Sub', 'Multiply', 'RealDiv'] as const).map((name) => ({ kernelName: name, make: ((addon, fallback) => binaryKernel(addon, name, fallback)) as KernelMaker })),
  ...(['Relu', 'Step', 'Square', 'Sqrt'] as const).map((name) => ({ kernelName: name, make: ((addon, fallback) => unaryKernel(addon, name, fallback)) as KernelMaker })),
  { kernelName: tf.Cast, make: castKernel },
  { kernelName: tf.Sum, make: sumKernel },
];

export const NATIVE_KERNEL_NAMES: readonly string[] = NATIVE_KERNELS.map((k) => k.kernelName);

/**
 * Registers the `native` backend: the wasm backend's own instance (one heap,
 * one set of tensors) under a second name, whose kernel table is wasm's with
 * the heavy kernels run by oneDNN in place on the heap. Each native kernel
 * hands the cases it does not cover to the wasm kernel of the same name.
 * Call once the wasm backend is initialized and tfleet's wasm kernels are
 * registered, so that `native` inherits them.
 */
export function registerNativeBackend(addon: NativeAddon): void {
  if (tf.findBackendFactory('native')) return;
  const wasm = tf.engine().findBackend('wasm');
  tf.util.assert(wasm !== null, () => 'the wasm backend must be initialized before the native one');
  for (const config of tf.getKernelsForBackend('wasm')) {
    const native = NATIVE_KERNELS.find((k) => k.kernelName === config.kernelName);
    const kernelFunc = native ? native.make(addon, config.kernelFunc as unknown as Fallback) : config.kernelFunc;
    tf.registerKernel({ ...config, backendName: 'native', kernelFunc });
  }
  for (const { kernelName, make } of NATIVE_KERNELS) {
    // wasm lacks it entirely (none of ours today): no fallback to hand cases to.
    if (tf.getKernel(kernelName, 'native') === undefined) {
      tf.registerKernel({ kernelName, backendName: 'native', kernelFunc: make(addon, () => { throw new Error(`${kernelName}: case not supported by the native backend`); }) });
    }
  }
  installFusedLayers(addon, { conv: (fallback) => conv2DKernel(addon, fallback), matMul: (fallback) => matMulKernel(addon, fallback) });
  installFusedAdam(addon);
  // Priority below wasm's: tfjs never picks it by itself; tfleet's selection does.
  tf.registerBackend('native', () => wasm!, 1);
}
