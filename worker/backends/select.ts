import * as tf from '@tensorflow/tfjs-core';
import { TfleetError } from '../../shared/errors';

import { BackendName, BackendRequest } from './names';
import { registerWasmTrainingKernels } from './wasm-kernels/register';

export { BACKEND_CHOICES, BackendName, BackendRequest } from './names';

export interface SelectedBackend {
  name: BackendName;
  /** Why this one: logged and exported as a metric label. */
  reason: string;
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
 * tfjs-node), then `wasm`, then `cpu`. A requested backend that is absent
 * fails with how to install it.
 *
 * @throws TfleetError FAILED_PRECONDITION naming the backend and the fix.
 */
export function selectBackend(request: BackendRequest, load: Loader = require): Promise<SelectedBackend> {
  const run = queue.then(() => select(request, load));
  queue = run.catch(() => undefined);
  return run;
}

async function select(request: BackendRequest, load: Loader): Promise<SelectedBackend> {
  if (request === 'tensorflow' || request === 'auto') {
    const native = tryNative(load);
    if (native.ok && (await activate('tensorflow'))) return { name: 'tensorflow', reason: `${request === 'auto' ? 'auto: ' : ''}native bindings from ${native.detail}` };
    if (request === 'tensorflow') {
      throw new TfleetError('FAILED_PRECONDITION',
        `backend 'tensorflow' is not available (${native.detail}). Install @tensorflow/tfjs-node-gpu@${tf.version_core} (CUDA) or @tensorflow/tfjs-node@${tf.version_core} where their native library can be downloaded, or choose --backend wasm|cpu`);
    }
  }
  if (request === 'wasm' || request === 'auto') {
    try {
      load('@tensorflow/tfjs-backend-wasm');
    } catch (err) {
      if (request === 'wasm') throw new TfleetError('FAILED_PRECONDITION', `backend 'wasm' is not installed (${(err as Error).message.split('\n')[0]}): npm install @tensorflow/tfjs-backend-wasm@${tf.version_core}`);
    }
    if (await activate('wasm')) {
      // Outside the load's try: a failure here is a bug of ours, not a missing package.
      registerWasmTrainingKernels();
      return { name: 'wasm', reason: request === 'auto' ? 'auto: no native tensorflow bindings; wasm (XNNPACK) is the fastest present' : 'requested' };
    }
    if (request === 'wasm') throw new TfleetError('FAILED_PRECONDITION', "backend 'wasm' failed to initialize");
  }
  load('@tensorflow/tfjs-backend-cpu');
  if (!(await activate('cpu'))) throw new TfleetError('FAILED_PRECONDITION', "backend 'cpu' failed to initialize");
  return { name: 'cpu', reason: request === 'auto' ? 'auto: neither tensorflow nor wasm could start' : 'requested' };
}
