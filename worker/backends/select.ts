import * as tf from '@tensorflow/tfjs-core';
import { availableParallelism } from 'node:os';
import { TfleetError } from '../../shared/errors';
import { NATIVE_INSTALL_HINT, loadNativeAddon } from '../../shared/native-addon';

import { BackendName, BackendRequest } from './names';
import { registerNativeBackend } from './native/register';
import { registerWasmTrainingKernels } from './wasm-kernels/register';

export { BACKEND_CHOICES, BackendName, BackendRequest } from './names';

export interface SelectedBackend {
  name: BackendName;
  /** Why this one: logged and exported as a metric label. */
  reason: string;
}

export interface BackendOptions {
  /** oneDNN threads of the native backend (default: every core of the host). */
  threads?: number;
  /** Loads a package by name (tests pass one that fails). */
  load?: Loader;
}

/** Native TensorFlow bindings, best first; neither is a dependency of tfleet. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

type Loader = (name: string) => void;

function tryNative(load: Loader): { ok: boolean; detail: string } {
  const failures: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      load(pkg);
      if (tf.findBackend('tensorflow')) return { ok: true, detail: pkg };
      failures.push(`${pkg} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs-core (versions must match ${tf.version_core})`);
    } catch (err) {
      failures.push(`${pkg}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { ok: false, detail: failures.join('; ') };
}

async function activate(name: BackendName): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    // setBackend throws for some init failures instead of returning false; both mean "not usable".
    return false;
  }
}

/** Selections run one at a time: tfjs's engine refuses a backend whose async init another call started. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Picks the tfjs backend: `auto` tries `tensorflow` (tfjs-node-gpu, then
 * tfjs-node), then `native` (tfleet's oneDNN kernels over wasm), then
 * `wasm`, then `cpu`. A requested backend that is absent fails with how to
 * install it.
 *
 * @throws TfleetError FAILED_PRECONDITION naming the backend and the fix.
 */
export function selectBackend(request: BackendRequest, options: BackendOptions = {}): Promise<SelectedBackend> {
  const run = queue.then(() => select(request, options.load ?? require, options.threads));
  queue = run.catch(() => undefined);
  return run;
}

/** Starts wasm with tfleet's kernels; false when the package is absent or fails to start. */
async function startWasm(load: Loader): Promise<{ ok: boolean; detail: string }> {
  try {
    load('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return { ok: false, detail: (err as Error).message.split('\n')[0] };
  }
  if (!(await activate('wasm'))) return { ok: false, detail: 'wasm failed to initialize' };
  // Outside the load's try: a failure here is a bug of ours, not a missing package.
  registerWasmTrainingKernels();
  return { ok: true, detail: '' };
}

/** The native backend runs on wasm's heap: wasm starts first, then oneDNN's kernels go over it. */
async function startNative(load: Loader, threads: number): Promise<{ ok: boolean; detail: string }> {
  const addon = loadNativeAddon();
  if (!addon.ok) return { ok: false, detail: addon.reason };
  const wasm = await startWasm(load);
  if (!wasm.ok) return { ok: false, detail: `the native backend runs over wasm, which is unavailable (${wasm.detail})` };
  addon.addon.setThreads(threads);
  registerNativeBackend(addon.addon);
  if (!(await activate('native'))) return { ok: false, detail: 'the native backend failed to initialize' };
  return { ok: true, detail: `${addon.addon.describe()}, ${addon.addon.threads()} thread${addon.addon.threads() === 1 ? '' : 's'}` };
}

async function select(request: BackendRequest, load: Loader, threads = availableParallelism()): Promise<SelectedBackend> {
  if (request === 'tensorflow' || request === 'auto') {
    const native = tryNative(load);
    if (native.ok && (await activate('tensorflow'))) return { name: 'tensorflow', reason: `${request === 'auto' ? 'auto: ' : ''}native bindings from ${native.detail}` };
    if (request === 'tensorflow') {
      throw new TfleetError('FAILED_PRECONDITION',
        `backend 'tensorflow' is not available (${native.detail}). Install @tensorflow/tfjs-node-gpu@${tf.version_core} (CUDA) or @tensorflow/tfjs-node@${tf.version_core} where their native library can be downloaded, or choose --backend wasm|cpu`);
    }
  }
  let nativeDetail = '';
  if (request === 'native' || request === 'auto') {
    const native = await startNative(load, threads);
    if (native.ok) return { name: 'native', reason: `${request === 'auto' ? 'auto: no tensorflow bindings; ' : ''}oneDNN kernels over wasm (${native.detail})` };
    if (request === 'native') throw new TfleetError('FAILED_PRECONDITION', `backend 'native' is not available (${native.detail}): ${NATIVE_INSTALL_HINT}, or choose --backend wasm|cpu`);
    nativeDetail = native.detail;
  }
  if (request === 'wasm' || request === 'auto') {
    const wasm = await startWasm(load);
    if (wasm.ok) return { name: 'wasm', reason: request === 'auto' ? `auto: no tensorflow bindings, no native backend (${nativeDetail}); wasm (XNNPACK) is the fastest present` : 'requested' };
    if (request === 'wasm') throw new TfleetError('FAILED_PRECONDITION', `backend 'wasm' is not available (${wasm.detail}): npm install @tensorflow/tfjs-backend-wasm@${tf.version_core}`);
  }
  load('@tensorflow/tfjs-backend-cpu');
  if (!(await activate('cpu'))) throw new TfleetError('FAILED_PRECONDITION', "backend 'cpu' failed to initialize");
  return { name: 'cpu', reason: request === 'auto' ? 'auto: neither tensorflow nor wasm could start' : 'requested' };
}
