/**
 * Node flags the coordinator's process should start with; `tfleet up`,
 * `tfleet demo` and the deploy manifests pass them.
 *
 * Why: the parameter server turns over its traffic several times in
 * short-lived Buffers (received frames, decoded copies, encoded replies) while
 * its JavaScript heap stays near 20 MB. V8 counts those ArrayBuffers against
 * an allocation limit sized from that small heap, so during the CNN benchmark
 * it ran a full mark-compact about every two steps (`--trace-gc`) and spent
 * about 25 ms of CPU per step on them. A 256 MB starting old-generation limit
 * left two full collections in a 72-step job and about 10 ms per step. The
 * workers' main isolates hold large heaps, and the flag changed nothing
 * there; their exchange threads get a limit of their own (step-exchange.ts).
 */
export const COORDINATOR_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=256'];

/** The flags of {@link COORDINATOR_NODE_FLAGS} this process was not started with. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return COORDINATOR_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
