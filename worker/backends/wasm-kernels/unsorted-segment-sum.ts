import * as tf from '@tensorflow/tfjs-core';
import { WasmBackend } from './primitives';

/**
 * out[segmentIds[i], ...] += x[i, ...]: the gradient of a gather (an
 * embedding lookup). A scatter-add is one pass over x with no arithmetic to
 * speak of, so it is written as a loop over the wasm heap: any formulation as
 * a matrix product (one-hot ids times x) does numSegments times more work.
 * Ids outside [0, numSegments) are dropped, as TensorFlow does.
 */
function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: WasmBackend; attrs: { numSegments: number } }): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const segmentIds = inputs.segmentIds!;
  const { numSegments } = attrs;
  tf.util.assert(x.dtype === 'float32' || x.dtype === 'int32', () => `wasm UnsortedSegmentSum supports float32 and int32, got ${x.dtype}`);
  tf.util.assert(segmentIds.shape.length === 1 && segmentIds.shape[0] === x.shape[0],
    () => `wasm UnsortedSegmentSum needs one segment id per row of x (rank-1 ids of length ${x.shape[0]}), got shape [${segmentIds.shape.join(', ')}]`);
  const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
  // Views are taken after makeOutput, which may grow (and move) the heap.
  const src = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const seg = ids[i];
    if (seg < 0 || seg >= numSegments) continue;
    const from = i * rowSize;
    const to = seg * rowSize;
    for (let j = 0; j < rowSize; j++) dst[to + j] += src[from + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
