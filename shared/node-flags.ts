/**
 * Node flags the coordinator's and the workers' processes should start with;
 * `tfleet up`, `tfleet demo`, the Docker image and the deploy manifests pass
 * them.
 *
 * Why: both turn over megabytes per step in short-lived ArrayBuffers (the
 * parameter server: received frames, decoded copies, encoded replies; a
 * worker: gradients read out of the backend, buckets, pulled values) while
 * their JavaScript heaps stay small. V8 counts those buffers against an
 * allocation limit sized from the heap, so it ran full mark-compacts every
 * few steps. A 256 MB starting old-generation limit cut the parameter
 * server's CPU per CNN step from about 25 to 10 ms, and on the native backend
 * (whose tensors live outside the JavaScript heap) raised a 2-worker CNN job
 * from about 4,450 to 5,100 images/s. The workers' exchange threads get a
 * limit of their own (worker/ps/bucket-pipeline.ts).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=256'];

/** The flags of {@link SERVER_NODE_FLAGS} this process was not started with. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return SERVER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
