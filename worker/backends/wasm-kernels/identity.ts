import * as tf from '@tensorflow/tfjs-core';

interface RefCountedBackend {
  incRef(dataId: tf.DataId): void;
}

/**
 * Identity that shares its input's storage, as the cpu backend's does and
 * the wasm backend's own Reshape does: tensors are immutable, so a copy buys
 * nothing. The package kernel copies every element; training calls it for
 * every `clone()`, which gradient code and tfjs-layers do each step.
 */
export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    (backend as unknown as RefCountedBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  },
};
