import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { runJsonProcess } from './harness';

/** Where `bench/torch-train.py` sits, from the compiled `dist/bench/`. */
const SCRIPT = resolve(__dirname, '..', '..', 'bench', 'torch-train.py');

/**
 * Interpreters tried for `import torch`: `TFLEET_BENCH_PYTHON` first, then
 * the one on PATH, then Debian's, which is where `python3-torch` installs
 * when PATH leads to another Python.
 */
function candidates(env: NodeJS.ProcessEnv): string[] {
  return [env.TFLEET_BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
}

/** The first Python that imports torch, or null when none does. */
export function findTorchPython(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const python of candidates(env)) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return null;
}

export interface TorchRun {
  imagesPerSecond: number;
  torch: string;
  intraOpThreads: number;
  /** The BLAS shared object torch's process loaded. */
  blas: string;
}

export interface TorchJob {
  images: string;
  labels: string;
  limit: number;
  epochs: number;
  batch: number;
  model: 'cnn' | 'mlp';
  /** One process, or DistributedDataParallel over 2 gloo ranks. */
  mode: 'single' | 'ddp';
  /** torch's intra-op threads (per rank). */
  threads: number;
}

/**
 * Trains with PyTorch, its BLAS pool pinned to one thread: OpenBLAS
 * otherwise starts a pool per process beside torch's own threads and
 * oversubscribes the cores.
 */
export function torchTrain(python: string, job: TorchJob): Promise<TorchRun> {
  const args = [job.images, job.labels, job.limit, job.epochs, job.batch, job.model, job.mode, job.threads].map(String);
  return runJsonProcess<TorchRun>(python, SCRIPT, args, { OPENBLAS_NUM_THREADS: '1' });
}
