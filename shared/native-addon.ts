import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * tfleet's oneDNN addon, built at install by node-gyp when a compiler and
 * oneDNN's headers are present (`worker/backends/native/build.js`). Each
 * kernel reads and writes tensors in place in the buffer it is given (the
 * wasm backend's heap); the parameter layouts are in worker/backends/native/:
 * kernels.ts, elementwise.ts, fused-ops.ts (reluGradBias) and fused-adam.ts (adamFloat).
 */
export interface NativeAddon {
  conv2d(heap: ArrayBuffer, params: Float64Array): void;
  matmul(heap: ArrayBuffer, params: Float64Array): void;
  pool2d(heap: ArrayBuffer, params: Float64Array): void;
  elementwise(heap: ArrayBuffer, params: Float64Array): void;
  sumLeading(heap: ArrayBuffer, params: Float64Array): void;
  reluGradBias(heap: ArrayBuffer, params: Float64Array): void;
  adamFloat(heap: ArrayBuffer, params: Float64Array): void;
  /** The parameter server's Adam loop (update-rules.ts): the same arithmetic in doubles; params [scale, lr, beta1, beta2, epsilon, c1, c2]. */
  adamStep(value: Float32Array, sum: Float64Array, m: Float64Array, v: Float64Array, params: Float64Array): void;
  /** The parameter server's SGD loop, and momentum's when `accum` is given (update-rules.ts): params [scale, lr, momentum]. */
  sgdStep(value: Float32Array, sum: Float64Array, accum: Float64Array | null, params: Float64Array): void;
  /** accum += data, returning the sum of (x − x) over data: 0, or NaN when a value was not finite. */
  addInto32(accum: Float64Array, data: Float32Array): number;
  /** accum = data (a step's first push), returning what addInto32 does. */
  overwrite32(accum: Float64Array, data: Float32Array): number;
  setThreads(threads: number): void;
  threads(): number;
  /** Primitives built and kept for reuse: one per kernel and shape. */
  cachedPrimitives(): number;
  /** oneDNN's version and threading runtime. */
  describe(): string;
}

export type AddonLoad = { ok: true; addon: NativeAddon } | { ok: false; reason: string };

const ADDON = 'build/Release/tfleet_dnnl.node';

/** How to get the addon where it is missing; printed by the install step too. */
export const NATIVE_INSTALL_HINT = 'install a C++ compiler and oneDNN (Debian: apt install g++ libdnnl-dev), then run npm run build:native';

/**
 * Where the addon is built, in worker/backends/native/ of the source tree:
 * seen from this file in the source tree (shared/) or from its compiled
 * copy (dist/shared/). The workers' kernels and the parameter server's loops
 * both load it from here.
 */
function candidates(): string[] {
  return [join(__dirname, '..', 'worker', 'backends', 'native', ADDON), join(__dirname, '..', '..', 'worker', 'backends', 'native', ADDON)];
}

let loaded: AddonLoad | undefined;

/**
 * Loads the addon once. `TFLEET_NATIVE=off` makes it absent, so that a
 * machine with it can test the fallback of a machine without.
 */
export function loadNativeAddon(): AddonLoad {
  if (loaded) return loaded;
  if (process.env.TFLEET_NATIVE === 'off') return (loaded = { ok: false, reason: 'switched off by TFLEET_NATIVE=off' });
  const path = candidates().find((p) => existsSync(p));
  if (!path) return (loaded = { ok: false, reason: 'the oneDNN addon is not built' });
  try {
    return (loaded = { ok: true, addon: require(path) as NativeAddon });
  } catch (err) {
    // A built addon that cannot load: most often libdnnl removed after the build.
    return (loaded = { ok: false, reason: `the oneDNN addon does not load (${(err as Error).message.split('\n')[0]})` });
  }
}
