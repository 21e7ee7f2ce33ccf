import * as tf from '@tensorflow/tfjs-core';

/**
 * Tensor methods that tfjs-layers calls in chained form (`t.flatten()`),
 * which tfjs-core's CommonJS build does not install (only its ES module
 * build does, through `register_all_chained_ops`). The orthogonal
 * initializer, the default for LSTM and GRU recurrent kernels, needs them.
 */
const CHAINED_OPS = ['reshape', 'stridedSlice', 'sign', 'transpose', 'cast', 'slice', 'squeeze', 'expandDims', 'mul', 'add', 'sub', 'div'] as const;

/** Installs the chained methods tfjs-layers needs, leaving any that exist alone. */
export function installChainedOps(): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tf as unknown as Record<string, (...args: unknown[]) => tf.Tensor>;
  for (const name of CHAINED_OPS) {
    proto[name] ??= function (this: tf.Tensor, ...args: unknown[]) {
      this.throwIfDisposed();
      return ops[name](this, ...args);
    };
  }
  proto.flatten ??= function (this: tf.Tensor) {
    this.throwIfDisposed();
    return tf.reshape(this, [this.size]);
  };
}
