import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchFleet } from '../bin/fleet';
import { readTable } from '../shared/data';
import { buildCnn } from '../shared/families/cnn/model';
import { parseCnnSpec } from '../shared/families/cnn/spec';
import { DataInfo } from '../shared/families/types';
import { CoordinatorApi } from '../shared/rpc/clients';
import { selectBackend } from '../worker/backends/select';
import { Benchmark, BenchRow, median } from './harness';
import { findTorchPython, torchTrain } from './torch-reference';

const DATA = resolve(__dirname, '..', '..', '..', 'shared', 'data', 'fashion-mnist');
const IMAGES = { images: join(DATA, 'train-images-idx3-ubyte.gz'), labels: join(DATA, 'train-labels-idx1-ubyte.gz') };
/** Images per epoch; epochs after the first are timed. */
const WASM_IMAGES = 3072;
/** The MLP trains about 10× faster: more images per epoch for a stable time. */
const MLP_IMAGES = 12288;
/** tfjs's cpu backend takes about half a minute per batch of this CNN: one batch per epoch, epoch 2 timed. */
const CPU_IMAGES = 64;
const CPU_EPOCHS = 2;
const EPOCHS = 3;
const BATCH = 64;
const LEARNING_RATE = 0.001;
/** Rounds of model.fit, 1 worker and 2 workers in turn: a shared 2-core machine drifts by a third between minutes. */
const FLEET_ROUNDS = 5;
/** Training steps profiled kernel by kernel. */
const PROFILED_STEPS = 5;
/** Kernels listed by name in the profile; the rest are summed as one row. */
const PROFILED_KERNELS = 8;

type Net = 'cnn' | 'mlp';

const INFO: DataInfo = { numFeatures: 784, featureNames: [], sampleShape: [28, 28], valueRange: [0, 1], labelName: 'label', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], missingValues: 0 };

/** The two-conv CNN as tfleet builds it, or the MLP 784-256-128-10, compiled with adam. */
function compiledModel(net: Net): tfl.LayersModel {
  const model = net === 'cnn'
    ? buildCnn(parseCnnSpec({ family: 'cnn', preset: 'two-conv' }), INFO, 1, 'softmax')
    : tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [28, 28, 1] }),
        tfl.layers.dense({ units: 256, activation: 'relu' }),
        tfl.layers.dense({ units: 128, activation: 'relu' }),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function trainingData(images: number): Promise<{ x: tf.Tensor4D; y: tf.Tensor2D }> {
  const table = await readTable({ format: 'idx', ...IMAGES, limit: images });
  return { x: tf.tensor4d(table.x, [images, 28, 28, 1]), y: tf.tensor2d(table.y, [images, 1]) };
}

/** Samples/s of plain single-process `model.fit` on a backend, over epochs 2..epochs. */
async function modelFit(backend: 'wasm' | 'cpu', net: Net, images: number, epochs: number): Promise<number> {
  await selectBackend(backend);
  const { x, y } = await trainingData(images);
  const model = compiledModel(net);
  const ends: number[] = [];
  await model.fit(x, y, { epochs, batchSize: BATCH, shuffle: true, verbose: 0, callbacks: { onEpochEnd: async () => void ends.push(performance.now()) } });
  tf.dispose([x, y]);
  model.dispose();
  return (images * (epochs - 1)) / ((ends[epochs - 1] - ends[0]) / 1000);
}

/** Where a wasm training step of the CNN spends its time: ms per step by kernel, the largest first. */
async function kernelProfile(): Promise<BenchRow[]> {
  await selectBackend('wasm');
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
    case: `wasm step profile: ${name}`, value: ms / PROFILED_STEPS, unit: 'ms/step', note: `${((100 * ms) / total).toFixed(1)}% of kernel time`,
  });
  const rest = sorted.slice(PROFILED_KERNELS).reduce((sum, [, ms]) => sum + ms, 0);
  return [...sorted.slice(0, PROFILED_KERNELS).map(([name, ms]) => row(name, ms)), row(`${sorted.length - PROFILED_KERNELS} other kernels`, rest)];
}

/** Samples/s of a tfleet job on a local fleet of `workers` wasm worker processes, over epochs 2..EPOCHS. */
async function tfleetJob(workers: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-bench-'));
  const fleet = await launchFleet({ workers, port: 0, metricsPort: 0, stateDir: join(dir, 'state'), natsUrl: '', backend: 'wasm' });
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
    const submitted = await api.submit(JSON.stringify(spec));
    const final = await api.watchJob(submitted.id, (r) => { if (!epochEnds.has(r.epoch)) epochEnds.set(r.epoch, performance.now()); });
    if (final.state !== 'succeeded') throw new Error(`tfleet job ${final.state}: ${final.error}`);
    return (WASM_IMAGES * (EPOCHS - 1)) / ((epochEnds.get(EPOCHS)! - epochEnds.get(1)!) / 1000);
  } finally {
    api.close();
    await fleet.stop();
  }
}

/** True when the BLAS torch loaded is the reference implementation, which makes PyTorch several times slower than it is. */
function referenceBlas(blas: string): boolean {
  return !/openblas|mkl|blis|atlas/i.test(blas);
}

/** PyTorch on the same images, network, batch and optimizer, when Debian's python3-torch (or any torch) is importable. */
async function torchRows(): Promise<{ rows: BenchRow[]; cnn?: number; cnn2?: number; ddp?: number; mlp?: number }> {
  const python = findTorchPython();
  if (!python) return { rows: [] };
  const job = { ...IMAGES, epochs: EPOCHS, batch: BATCH };
  const cnn = await torchTrain(python, { ...job, limit: WASM_IMAGES, model: 'cnn', mode: 'single', threads: 1 });
  const cnn2 = await torchTrain(python, { ...job, limit: WASM_IMAGES, model: 'cnn', mode: 'single', threads: 2 });
  const ddp = await torchTrain(python, { ...job, limit: WASM_IMAGES, model: 'cnn', mode: 'ddp', threads: 1 });
  const mlp = await torchTrain(python, { ...job, limit: MLP_IMAGES, model: 'mlp', mode: 'single', threads: 1 });
  const blas = referenceBlas(cnn.blas)
    ? `reference BLAS (${cnn.blas}): install an optimized one (libopenblas0-pthread) for a fair comparison`
    : cnn.blas;
  const note = (threads: number) => `torch ${cnn.torch}, ${threads} intra-op thread(s), OPENBLAS_NUM_THREADS=1, BLAS ${blas}`;
  return {
    rows: [
      { case: 'PyTorch CNN, 1 process, 1 thread', value: cnn.imagesPerSecond, unit: 'images/s', note: note(cnn.intraOpThreads) },
      { case: 'PyTorch CNN, 1 process, 2 threads', value: cnn2.imagesPerSecond, unit: 'images/s', note: note(cnn2.intraOpThreads) },
      { case: 'PyTorch CNN, DDP 2 gloo ranks', value: ddp.imagesPerSecond, unit: 'images/s', note: `batch ${BATCH} per rank, 1 thread per rank` },
      { case: 'PyTorch MLP 784-256-128-10, 1 process, 1 thread', value: mlp.imagesPerSecond, unit: 'images/s', note: note(mlp.intraOpThreads) },
    ],
    cnn: cnn.imagesPerSecond,
    cnn2: cnn2.imagesPerSecond,
    ddp: ddp.imagesPerSecond,
    mlp: mlp.imagesPerSecond,
  };
}

/**
 * Training throughput of the two-conv CNN (conv 32 3×3, pool, conv 64 3×3,
 * pool, dense 128, dense 10) on Fashion-MNIST: wasm against cpu under plain
 * `model.fit`; tfleet with 1 worker against `model.fit` on the same backend,
 * model, batch and data; 2 workers against 1 (global batch 128 against 64);
 * PyTorch on the same work when it is installed; and where a wasm step's
 * time goes, kernel by kernel.
 */
export const cnnTrain: Benchmark = {
  name: 'cnn-train',
  description: `Training images/s of the two-conv CNN on Fashion-MNIST, batch ${BATCH} per worker, adam, epochs 2–${EPOCHS} of ${WASM_IMAGES} images timed (MLP: ${MLP_IMAGES} images; on cpu, epoch 2 of ${CPU_IMAGES}: one batch); one run. tfleet rows are worker processes on this host plus the coordinator; ${FLEET_ROUNDS} rounds of wasm \`model.fit\`, 1 worker and 2 workers in turn, medians compared. PyTorch rows appear when torch is importable. The profile sums tfjs kernel times over ${PROFILED_STEPS} \`trainOnBatch\` steps.`,
  async run() {
    const fitCpu = await modelFit('cpu', 'cnn', CPU_IMAGES, CPU_EPOCHS);
    const fitMlp = await modelFit('wasm', 'mlp', MLP_IMAGES, EPOCHS);
    const fits: number[] = [];
    const ones: number[] = [];
    const twos: number[] = [];
    for (let r = 0; r < FLEET_ROUNDS; r++) {
      fits.push(await modelFit('wasm', 'cnn', WASM_IMAGES, EPOCHS));
      ones.push(await tfleetJob(1));
      twos.push(await tfleetJob(2));
    }
    const fitWasm = median(fits);
    const one = median(ones);
    const two = median(twos);
    const pairs = twos.map((t, i) => t / ones[i]);
    const rounds = (xs: number[]) => `median of ${FLEET_ROUNDS} rounds: ${xs.map((x) => x.toFixed(1)).join(', ')}`;
    const torch = await torchRows();
    const profile = await kernelProfile();
    const rows: BenchRow[] = [
      { case: 'model.fit, wasm, 1 process', value: fitWasm, unit: 'images/s', note: rounds(fits) },
      { case: 'model.fit, cpu, 1 process', value: fitCpu, unit: 'images/s' },
      { case: 'tfleet, 1 wasm worker', value: one, unit: 'images/s', note: rounds(ones) },
      { case: 'tfleet, 2 wasm workers', value: two, unit: 'images/s', note: rounds(twos) },
      { case: 'model.fit MLP 784-256-128-10, wasm, 1 process', value: fitMlp, unit: 'images/s' },
      ...torch.rows,
      ...profile,
    ];
    const ratios: Record<string, number> = {
      'wasm / cpu (model.fit; target ≥ 5)': fitWasm / fitCpu,
      'tfleet 1 worker / model.fit on wasm (target ≥ 0.9; medians)': one / fitWasm,
      'tfleet 2 workers / 1 worker (target ≥ 1.7; medians)': two / one,
      // Runs of one round are a minute apart: their ratio cancels the machine's drift.
      'tfleet 2 workers / 1 worker, median of the rounds\' ratios': median(pairs),
      'tfleet 2 workers / 1 worker, lowest of the rounds': Math.min(...pairs),
    };
    if (torch.cnn) ratios['CNN: model.fit wasm / PyTorch, 1 process and 1 thread each'] = fitWasm / torch.cnn;
    if (torch.cnn2) ratios['CNN: tfleet 2 workers / PyTorch 1 process with 2 threads (both use the 2 cores)'] = two / torch.cnn2;
    if (torch.ddp) ratios['CNN: tfleet 2 workers / PyTorch DDP 2 ranks'] = two / torch.ddp;
    if (torch.mlp) ratios['MLP: model.fit wasm / PyTorch, 1 process and 1 thread each'] = fitMlp / torch.mlp;
    return { name: this.name, description: this.description, rows, ratios };
  },
};
