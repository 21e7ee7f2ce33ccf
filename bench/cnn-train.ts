import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultThreadsPerWorker, launchFleet } from '../bin/fleet';
import { CoordinatorApi } from '../shared/rpc/clients';
import { loadNativeAddon } from '../shared/native-addon';
import { selectBackend } from '../worker/backends/select';
import { Benchmark, BenchRow, median, processCpuSeconds } from './harness';
import { BATCH, Backend, IMAGES, LEARNING_RATE, compiledModel, concurrentFits, modelFit, trainingData } from './model-fit';
import { findTorchPython, torchTrain } from './torch-reference';

/** Images per epoch; epochs after the first are timed. */
const WASM_IMAGES = 3072;
/** The MLP trains about 10× faster: more images per epoch for a stable time. */
const MLP_IMAGES = 12288;
/** tfjs's cpu backend takes about half a minute per batch of this CNN: one batch per epoch, epoch 2 timed. */
const CPU_IMAGES = 64;
const CPU_EPOCHS = 2;
const EPOCHS = 3;
/** Rounds of model.fit, 1 worker and 2 workers in turn: a shared 2-core machine drifts by a third between minutes. */
const FLEET_ROUNDS = 5;
/** Rounds of the MLP's model.fit on each backend and PyTorch's, in turn. */
const MLP_ROUNDS = 5;
/** Training steps profiled kernel by kernel. */
const PROFILED_STEPS = 5;
/** Kernels listed by name in the profile; the rest are summed as one row. */
const PROFILED_KERNELS = 8;

/** Where a training step of the CNN spends its time on a backend: ms per step by kernel, the largest first. */
async function kernelProfile(backend: Backend): Promise<BenchRow[]> {
  await selectBackend(backend, { threads: 1 });
  const { x, y } = await trainingData(BATCH);
  const model = compiledModel('cnn');
  await model.trainOnBatch(x, y); // warm-up: first-call allocations and compilation
  const byKernel = new Map<string, number>();
  for (let i = 0; i < PROFILED_STEPS; i++) {
    const profile = await tf.profile(async () => void (await model.trainOnBatch(x, y)));
    for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (await k.kernelTimeMs as number));
  }
  tf.dispose([x, y]);
  model.dispose();
  const sorted = [...byKernel].sort((a, b) => b[1] - a[1]);
  const total = sorted.reduce((sum, [, ms]) => sum + ms, 0);
  const row = (name: string, ms: number): BenchRow => ({
    case: `${backend} step profile: ${name}`, value: ms / PROFILED_STEPS, unit: 'ms/step', note: `${((100 * ms) / total).toFixed(1)}% of kernel time`,
  });
  const rest = sorted.slice(PROFILED_KERNELS).reduce((sum, [, ms]) => sum + ms, 0);
  return [...sorted.slice(0, PROFILED_KERNELS).map(([name, ms]) => row(name, ms)), row(`${sorted.length - PROFILED_KERNELS} other kernels`, rest)];
}

interface FleetRun {
  imagesPerSecond: number;
  /** CPU seconds of the coordinator and workers together per second, over the same epochs: the host's cores the fleet kept busy. */
  cores: number | null;
}

/**
 * Samples/s of a tfleet job on a local fleet of `workers` worker processes,
 * over epochs 2..EPOCHS. Native workers get `tfleet up`'s default threads
 * ({@link defaultThreadsPerWorker}).
 */
async function tfleetJob(workers: number, backend: Backend): Promise<FleetRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
  const fleet = await launchFleet({ workers, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend });
  const api = new CoordinatorApi(fleet.coordinator.ready.grpc!);
  try {
    const spec = {
      model: { family: 'cnn', preset: 'two-conv' },
      data: { train: { format: 'idx', ...IMAGES, limit: WASM_IMAGES } },
      training: { epochs: EPOCHS, batchSize: BATCH, optimizer: { name: 'adam', learningRate: LEARNING_RATE } },
      workers,
      output: join(dir, 'model'),
    };
    const epochEnds = new Map<number, number>();
    const cpuAt = new Map<number, number | null>();
    const fleetCpu = (): number | null => {
      const each = [fleet.coordinator, ...fleet.workers].map((p) => processCpuSeconds(p.proc.pid!));
      return each.every((s) => s !== null) ? each.reduce((sum: number, s) => sum + s!, 0) : null;
    };
    const submitted = await api.submit(JSON.stringify(spec));
    const final = await api.watchJob(submitted.id, (r) => {
      if (!epochEnds.has(r.epoch)) {
        epochEnds.set(r.epoch, performance.now());
        cpuAt.set(r.epoch, fleetCpu());
      }
    });
    if (final.state !== 'succeeded') throw new Error(`tfleet job ${final.state}: ${final.error}`);
    const seconds = (epochEnds.get(EPOCHS)! - epochEnds.get(1)!) / 1000;
    const [first, last] = [cpuAt.get(1), cpuAt.get(EPOCHS)];
    return { imagesPerSecond: (WASM_IMAGES * (EPOCHS - 1)) / seconds, cores: first != null && last != null ? (last - first) / seconds : null };
  } finally {
    api.close();
    await fleet.stop();
  }
}

/** True when the BLAS torch loaded is the reference implementation, which makes PyTorch several times slower than it is. */
function referenceBlas(blas: string): boolean {
  return !/openblas|mkl|blis|atlas/i.test(blas);
}

const TORCH_JOB = { ...IMAGES, epochs: EPOCHS, batch: BATCH };

/** Images/s of PyTorch's MLP in one process and one thread, or null without torch. */
async function torchMlp(python: string | null): Promise<number | null> {
  if (!python) return null;
  return (await torchTrain(python, { ...TORCH_JOB, limit: MLP_IMAGES, model: 'mlp', mode: 'single', threads: 1 })).imagesPerSecond;
}

/** PyTorch's CNN on the same images, network, batch and optimizer, when Debian's python3-torch (or any torch) is importable. */
async function torchRows(python: string | null): Promise<{ rows: BenchRow[]; cnn?: number; cnn2?: number; ddp?: number }> {
  if (!python) return { rows: [] };
  const cnn = await torchTrain(python, { ...TORCH_JOB, limit: WASM_IMAGES, model: 'cnn', mode: 'single', threads: 1 });
  const cnn2 = await torchTrain(python, { ...TORCH_JOB, limit: WASM_IMAGES, model: 'cnn', mode: 'single', threads: 2 });
  const ddp = await torchTrain(python, { ...TORCH_JOB, limit: WASM_IMAGES, model: 'cnn', mode: 'ddp', threads: 1 });
  const blas = referenceBlas(cnn.blas)
    ? `reference BLAS (${cnn.blas}): install an optimized one (libopenblas0-pthread) for a fair comparison`
    : cnn.blas;
  const note = (threads: number) => `torch ${cnn.torch}, ${threads} intra-op thread(s), OPENBLAS_NUM_THREADS=1, BLAS ${blas}`;
  return {
    rows: [
      { case: 'PyTorch CNN, 1 process, 1 thread', value: cnn.imagesPerSecond, unit: 'images/s', note: note(cnn.intraOpThreads) },
      { case: 'PyTorch CNN, 1 process, 2 threads', value: cnn2.imagesPerSecond, unit: 'images/s', note: note(cnn2.intraOpThreads) },
      { case: 'PyTorch CNN, DDP 2 gloo ranks', value: ddp.imagesPerSecond, unit: 'images/s', note: `batch ${BATCH} per rank, 1 thread per rank` },
    ],
    cnn: cnn.imagesPerSecond,
    cnn2: cnn2.imagesPerSecond,
    ddp: ddp.imagesPerSecond,
  };
}

/**
 * Training throughput of the two-conv CNN (conv 32 3×3, pool, conv 64 3×3,
 * pool, dense 128, dense 10) on Fashion-MNIST, on the native backend (where
 * its addon is built) and on wasm: wasm against cpu under plain `model.fit`;
 * tfleet with 1 worker against `model.fit` on the same backend, model, batch
 * and data; 2 workers against 1 (global batch 128 against 64); PyTorch on the
 * same work when it is installed; and where a step's time goes, kernel by kernel.
 */
export const cnnTrain: Benchmark = {
  name: 'cnn-train',
  description: `Training images/s of the two-conv CNN on Fashion-MNIST, batch ${BATCH} per worker, adam, epochs 2–${EPOCHS} of ${WASM_IMAGES} images timed (MLP: ${MLP_IMAGES} images, ${MLP_ROUNDS} rounds of every backend and PyTorch in turn, medians compared; on cpu, epoch 2 of ${CPU_IMAGES}: one batch); one run. tfleet rows are worker processes on this host plus the coordinator; ${FLEET_ROUNDS} rounds of \`model.fit\`, 1 worker and 2 workers in turn for each backend (native first, where built), medians compared; native \`model.fit\` runs one oneDNN thread, native workers \`tfleet up\`'s default threads (the host's cores but one, divided among them). Cores busy: the fleet's CPU time over those epochs (from /proc) per second. Each native round also runs \`model.fit\` in 1 child process and in 2 at once (no parameter server; each child trains an untimed epoch after its timed ones, so both train throughout both timed windows; the order alternates by round): what this host allows 2 workers / 1. PyTorch rows appear when torch is importable. The profile sums tfjs kernel times over ${PROFILED_STEPS} \`trainOnBatch\` steps.`,
  async run() {
    const native = loadNativeAddon().ok;
    const backends: Backend[] = native ? ['native', 'wasm'] : ['wasm'];
    const fitCpu = await modelFit('cpu', 'cnn', CPU_IMAGES, CPU_EPOCHS);
    // The MLP's runs take seconds: rounds of every backend and PyTorch in turn, as for the fleet.
    const python = findTorchPython();
    const fitMlp = new Map<Backend, number[]>(backends.map((b) => [b, []]));
    const mlpTorch: number[] = [];
    for (let r = 0; r < MLP_ROUNDS; r++) {
      for (const b of backends) fitMlp.get(b)!.push(await modelFit(b, 'mlp', MLP_IMAGES, EPOCHS));
      const torch = await torchMlp(python);
      if (torch !== null) mlpTorch.push(torch);
    }
    const fits = new Map<Backend, number[]>(backends.map((b) => [b, []]));
    const ones = new Map<Backend, number[]>(backends.map((b) => [b, []]));
    const twos = new Map<Backend, number[]>(backends.map((b) => [b, []]));
    const cores = new Map<string, number[]>();
    const fleetRound = async (workers: number, b: Backend, into: Map<Backend, number[]>) => {
      const run = await tfleetJob(workers, b);
      into.get(b)!.push(run.imagesPerSecond);
      if (run.cores !== null) cores.set(`${workers} ${b}`, [...(cores.get(`${workers} ${b}`) ?? []), run.cores]);
    };
    // The host's ceiling for 2 native workers / 1: separate model.fit processes at once, with no exchange at all.
    const aloneFits: number[] = [];
    const pairFits: number[] = [];
    for (let r = 0; r < FLEET_ROUNDS; r++) {
      for (const b of backends) {
        fits.get(b)!.push(await modelFit(b, 'cnn', WASM_IMAGES, EPOCHS));
        await fleetRound(1, b, ones);
        await fleetRound(2, b, twos);
        if (b !== 'native') continue;
        // Alone first in even rounds, the pair first in odd ones: neither always follows the other.
        const alone = () => concurrentFits(1, b, 'cnn', WASM_IMAGES, EPOCHS).then((v) => void aloneFits.push(v));
        const pair = () => concurrentFits(2, b, 'cnn', WASM_IMAGES, EPOCHS).then((v) => void pairFits.push(v));
        if (r % 2 === 0) await alone().then(pair);
        else await pair().then(alone);
      }
    }
    const rounds = (xs: number[]) => `median of ${xs.length} rounds: ${xs.map((x) => x.toFixed(1)).join(', ')}`;
    const torch = await torchRows(python);
    const rows: BenchRow[] = [];
    const ratios: Record<string, number> = {};
    for (const b of backends) {
      const fit = median(fits.get(b)!);
      const one = median(ones.get(b)!);
      const two = median(twos.get(b)!);
      const pairs = twos.get(b)!.map((t, i) => t / ones.get(b)![i]);
      const threadsOf = (workers: number) => (b === 'native' ? ` (${defaultThreadsPerWorker(workers)} oneDNN thread${defaultThreadsPerWorker(workers) > 1 ? 's' : ''} each)` : '');
      rows.push(
        { case: `model.fit, ${b}, 1 process${b === 'native' ? ', 1 thread' : ''}`, value: fit, unit: 'images/s', note: rounds(fits.get(b)!) },
        { case: `tfleet, 1 ${b} worker${threadsOf(1)}`, value: one, unit: 'images/s', note: rounds(ones.get(b)!) },
        { case: `tfleet, 2 ${b} workers${threadsOf(2)}`, value: two, unit: 'images/s', note: rounds(twos.get(b)!) },
        { case: `model.fit MLP 784-256-128-10, ${b}, 1 process${b === 'native' ? ', 1 thread' : ''}`, value: median(fitMlp.get(b)!), unit: 'images/s', note: rounds(fitMlp.get(b)!) },
      );
      for (const workers of [1, 2]) {
        const used = cores.get(`${workers} ${b}`);
        if (used) rows.push({ case: `tfleet, ${workers} ${b} worker${workers > 1 ? 's' : ''}: cores busy (coordinator and workers, CPU s per s)`, value: median(used), unit: `of ${availableParallelism()} cores`, note: `median of ${used.length} rounds: ${used.map((x) => x.toFixed(2)).join(', ')}` });
      }
      if (b === 'wasm') ratios['wasm / cpu (model.fit; target ≥ 5)'] = fit / fitCpu;
      if (b === 'native') ratios['native / wasm (model.fit CNN, 1 thread)'] = fit / median(fits.get('wasm')!);
      ratios[`${b}: tfleet 1 worker / model.fit (medians)`] = one / fit;
      ratios[`${b}: tfleet 2 workers / 1 worker (target ≥ 1.7; medians)`] = two / one;
      // Runs of one round are a minute apart: their ratio cancels the machine's drift.
      ratios[`${b}: tfleet 2 workers / 1 worker, median of the rounds' ratios`] = median(pairs);
      ratios[`${b}: tfleet 2 workers / 1 worker, lowest of the rounds`] = Math.min(...pairs);
      if (torch.cnn) ratios[`CNN: model.fit ${b} / PyTorch, 1 process and 1 thread each${b === 'native' ? ' (target ≥ 1.0)' : ''}`] = fit / torch.cnn;
      if (torch.cnn && b === 'native') ratios['CNN: tfleet 1 native worker / PyTorch 1 process, 1 thread (target ≥ 1.0)'] = one / torch.cnn;
      if (torch.cnn2) ratios[`CNN: tfleet 2 ${b} workers / PyTorch 1 process with 2 threads (both use the 2 cores)`] = two / torch.cnn2;
      if (torch.ddp) ratios[`CNN: tfleet 2 ${b} workers / PyTorch DDP 2 ranks${b === 'native' ? ' (target ≥ 1.0)' : ''}`] = two / torch.ddp;
      if (mlpTorch.length > 0) {
        const mlp = fitMlp.get(b)!;
        ratios[`MLP: model.fit ${b} / PyTorch, 1 process and 1 thread each${b === 'native' ? ' (target ≥ 1.0; medians)' : ' (medians)'}`] = median(mlp) / median(mlpTorch);
        ratios[`MLP: model.fit ${b} / PyTorch, median of the rounds' ratios`] = median(mlp.map((m, i) => m / mlpTorch[i]));
      }
    }
    if (pairFits.length > 0) {
      rows.push(
        { case: 'model.fit, native, 1 child process, 1 thread', value: median(aloneFits), unit: 'images/s', note: rounds(aloneFits) },
        { case: 'model.fit, native, 2 child processes at once, 1 thread each', value: median(pairFits), unit: 'images/s', note: `the sum of both processes' rates while both train; ${rounds(pairFits)}` },
      );
      ratios['native: 2 model.fit processes at once / 1 (no parameter server: what this host allows 2 workers / 1; medians)'] = median(pairFits) / median(aloneFits);
      ratios["native: 2 model.fit processes at once / 1, median of the rounds' ratios"] = median(pairFits.map((p, i) => p / aloneFits[i]));
    }
    if (torch.cnn && torch.ddp) ratios['CNN: PyTorch DDP 2 ranks / PyTorch 1 process, 1 thread'] = torch.ddp / torch.cnn;
    rows.push({ case: 'model.fit, cpu, 1 process', value: fitCpu, unit: 'images/s' }, ...torch.rows);
    if (mlpTorch.length > 0) rows.push({ case: 'PyTorch MLP 784-256-128-10, 1 process, 1 thread', value: median(mlpTorch), unit: 'images/s', note: rounds(mlpTorch) });
    for (const b of backends) rows.push(...(await kernelProfile(b)));
    return { name: this.name, description: this.description, rows, ratios };
  },
};
