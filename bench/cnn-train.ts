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
import { Benchmark, BenchRow } from './harness';

const DATA = resolve(__dirname, '..', '..', '..', 'shared', 'data', 'fashion-mnist');
const IMAGES = { images: join(DATA, 'train-images-idx3-ubyte.gz'), labels: join(DATA, 'train-labels-idx1-ubyte.gz') };
/** Images per epoch; epochs after the first are timed. */
const WASM_IMAGES = 3072;
/** tfjs's cpu backend takes about half a minute per batch of this CNN: one batch per epoch, epoch 2 timed. */
const CPU_IMAGES = 64;
const CPU_EPOCHS = 2;
const EPOCHS = 3;
const BATCH = 64;
const LEARNING_RATE = 0.001;

/** Samples/s of plain single-process `model.fit` on a backend, over epochs 2..epochs. */
async function modelFit(backend: 'wasm' | 'cpu', images: number, epochs: number): Promise<number> {
  await selectBackend(backend);
  const table = await readTable({ format: 'idx', ...IMAGES, limit: images });
  const info: DataInfo = { numFeatures: 784, featureNames: [], sampleShape: [28, 28], valueRange: [0, 1], labelName: 'label', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] };
  const model = buildCnn(parseCnnSpec({ family: 'cnn', preset: 'two-conv' }), info, 1, 'softmax');
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.tensor4d(table.x, [images, 28, 28, 1]);
  const y = tf.tensor2d(table.y, [images, 1]);
  const ends: number[] = [];
  await model.fit(x, y, { epochs, batchSize: BATCH, shuffle: true, verbose: 0, callbacks: { onEpochEnd: async () => void ends.push(performance.now()) } });
  tf.dispose([x, y]);
  model.dispose();
  return (images * (epochs - 1)) / ((ends[epochs - 1] - ends[0]) / 1000);
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

/**
 * Training throughput of the two-conv CNN (conv 32 3×3, pool, conv 64 3×3,
 * pool, dense 128, dense 10) on Fashion-MNIST: wasm against cpu under plain
 * `model.fit`; tfleet with 1 worker against `model.fit` on the same backend,
 * model, batch and data; 2 workers against 1 (global batch 128 against 64).
 */
export const cnnTrain: Benchmark = {
  name: 'cnn-train',
  description: `Training images/s of the two-conv CNN on Fashion-MNIST, batch ${BATCH} per worker, adam, epochs 2–${EPOCHS} of ${WASM_IMAGES} images timed (on cpu, epoch 2 of ${CPU_IMAGES}: one batch); one run. tfleet rows are worker processes on this host plus the coordinator.`,
  async run() {
    const fitWasm = await modelFit('wasm', WASM_IMAGES, EPOCHS);
    const fitCpu = await modelFit('cpu', CPU_IMAGES, CPU_EPOCHS);
    const one = await tfleetJob(1);
    const two = await tfleetJob(2);
    const rows: BenchRow[] = [
      { case: 'model.fit, wasm, 1 process', value: fitWasm, unit: 'images/s' },
      { case: 'model.fit, cpu, 1 process', value: fitCpu, unit: 'images/s' },
      { case: 'tfleet, 1 wasm worker', value: one, unit: 'images/s' },
      { case: 'tfleet, 2 wasm workers', value: two, unit: 'images/s' },
    ];
    return {
      name: this.name,
      description: this.description,
      rows,
      ratios: {
        'wasm / cpu (model.fit; target ≥ 5)': fitWasm / fitCpu,
        'tfleet 1 worker / model.fit on wasm (target ≥ 0.9)': one / fitWasm,
        'tfleet 2 workers / 1 worker (target ≥ 1.7)': two / one,
      },
    };
  },
};
