import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend } from './primitives';

interface Attrs {
  axis: number;
  batchDims: number;
}

/** Below this many elements a slice is copied by a loop; above it by one `copyWithin` (a memmove). */
const LOOP_SLICE = 16;

/** A tensor's 4-byte values as int32 words: copies keep a float's bits (NaN payloads included). */
function words(backend: WasmBackend, info: tf.TensorInfo): Int32Array {
  const values = backend.typedArrayFromHeap(info);
  return new Int32Array(values.buffer, values.byteOffset, values.length);
}

/**
 * Wraps the package's GatherV2 for gathers of 4-byte values without batch
 * dimensions: every output slice is one contiguous run of the input, copied
 * whole. `model.fit` gathers each shuffled batch from the whole data set
 * with it; the package's kernel computes each element's address through
 * its strides: about 1.0 ms for a batch of 64 Fashion-MNIST images out of
 * 12,288, against 25–35 µs for 64 slice copies (by hand, two runs).
 */
export function fastGather(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: Attrs }): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const indices = inputs.indices!;
    const fourBytes = x.dtype === 'float32' || x.dtype === 'int32';
    if ((attrs.batchDims ?? 0) !== 0 || !fourBytes || indices.dtype !== 'int32' || tf.util.sizeFromShape(x.shape) === 0) {
      return original.kernelFunc(args as unknown as tf.KernelFunc['arguments']) as tf.TensorInfo;
    }
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const axisDim = x.shape[axis];
    const idx = backend.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) {
      const index = idx[i];
      // The package's message, so that callers see one error whichever route ran.
      tf.util.assert(index <= axisDim - 1 && index >= 0, () => `GatherV2: the index value ${index} is not in [0, ${axisDim - 1}]`);
    }
    const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
    const slice = tf.util.sizeFromShape(x.shape.slice(axis + 1));
    const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
    // Views taken after the output is made: making it may grow the heap.
    const src = words(backend, x);
    const dst = words(backend, out);
    const rows = idx.length;
    for (let o = 0; o < outer; o++) {
      const from = o * axisDim * slice;
      const to = o * rows * slice;
      for (let i = 0; i < rows; i++) {
        const s = from + idx[i] * slice;
        const d = to + i * slice;
        if (slice < LOOP_SLICE) for (let k = 0; k < slice; k++) dst[d + k] = src[s + k];
        else dst.set(src.subarray(s, s + slice), d);
      }
    }
    return out;
  };
  return { ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
