/**
 * Plain tfjs `model.fit` of cnn-train's networks, in this process or in
 * several at once (bench/fit-process.ts): the baseline a tfleet worker is
 * compared with, and the most that processes sharing this host's cores
 * reach with no parameter server at all.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { readTable } from '../shared/data';
import { buildCnn } from '../shared/families/cnn/model';
import { parseCnnSpec } from '../shared/families/cnn/spec';
import { DataInfo } from '../shared/families/types';
import { selectBackend } from '../worker/backends/select';
import { SERVER_NODE_FLAGS } from '../shared/node-flags';

const DATA = resolve(__dirname, '..', '..', '..', 'shared', 'data', 'fashion-mnist');
/** Fashion-MNIST's training images and labels (IDX, gzip), from the shared data folder. */
export const IMAGES = { images: join(DATA, 'train-images-idx3-ubyte.gz'), labels: join(DATA, 'train-labels-idx1-ubyte.gz') };
/** Images per step, per process or worker. */
export const BATCH = 64;
/** Adam's step size. */
export const LEARNING_RATE = 0.001;

/** The two-conv CNN or the MLP 784-256-128-10. */
export type Net = 'cnn' | 'mlp';
/** A tfjs backend this benchmark trains on. */
export type Backend = 'native' | 'wasm' | 'cpu';

const INFO: DataInfo = { numFeatures: 784, featureNames: [], sampleShape: [28, 28], valueRange: [0, 1], labelName: 'label', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], missingValues: 0 };

/** The two-conv CNN as tfleet builds it, or the MLP 784-256-128-10, compiled with adam. */
export function compiledModel(net: Net): tfl.LayersModel {
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

/** The first `images` of Fashion-MNIST as tensors: x [images, 28, 28, 1] in [0, 1], y [images, 1]. */
export async function trainingData(images: number): Promise<{ x: tf.Tensor4D; y: tf.Tensor2D }> {
  const table = await readTable({ format: 'idx', ...IMAGES, limit: images });
  return { x: tf.tensor4d(table.x, [images, 28, 28, 1]), y: tf.tensor2d(table.y, [images, 1]) };
}

/**
 * One `model.fit`: the images of its timed epochs (2..epochs) and their
 * wall-clock window, and when training began and ended (untimed epochs
 * included), all in ms since the Unix epoch.
 */
export interface FitWindow {
  images: number;
  startMs: number;
  endMs: number;
  trainingFromMs: number;
  trainingToMs: number;
}

/**
 * Plain single-process `model.fit` on a backend (native: one oneDNN
 * thread, as PyTorch's row), timed over epochs 2..epochs, then `tail`
 * untimed epochs more. `ready` runs once the data and model are built,
 * before training starts.
 */
export async function fitWindow(backend: Backend, net: Net, images: number, epochs: number, ready: () => Promise<void> = async () => undefined, tail = 0): Promise<FitWindow> {
  await selectBackend(backend, { threads: 1 });
  const { x, y } = await trainingData(images);
  const model = compiledModel(net);
  await ready();
  const now = (): number => performance.timeOrigin + performance.now();
  const trainingFromMs = now();
  const ends: number[] = [];
  await model.fit(x, y, { epochs: epochs + tail, batchSize: BATCH, shuffle: true, verbose: 0, callbacks: { onEpochEnd: async () => void ends.push(now()) } });
  const trainingToMs = now();
  tf.dispose([x, y]);
  model.dispose();
  return { images: images * (epochs - 1), startMs: ends[0], endMs: ends[epochs - 1], trainingFromMs, trainingToMs };
}

/** Samples/s of {@link fitWindow} in this process. */
export async function modelFit(backend: Backend, net: Net, images: number, epochs: number): Promise<number> {
  const w = await fitWindow(backend, net, images, epochs);
  return w.images / ((w.endMs - w.startMs) / 1000);
}

/** How long {@link concurrentFits} waits for its processes before it stops them and fails. */
const CONCURRENT_FITS_TIMEOUT_MS = 10 * 60_000;

/**
 * Samples/s of `processes` separate `model.fit` processes training at once,
 * each on its own copy of the data, started with the workers' node flags.
 * All of them build their model first and start on one signal, and each
 * trains an untimed epoch after its timed ones, so that every timed window
 * falls while all of them train: the result is the sum of their rates.
 * Should a window fall outside another's training, the images of every
 * window count over the span of all of them instead (never more).
 */
export async function concurrentFits(processes: number, backend: Backend, net: Net, images: number, epochs: number): Promise<number> {
  const script = join(__dirname, 'fit-process.js');
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, [...SERVER_NODE_FLAGS, script, backend, net, String(images), String(epochs)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`fit processes did not finish within ${CONCURRENT_FITS_TIMEOUT_MS} ms`)), CONCURRENT_FITS_TIMEOUT_MS);
    for (const child of children) {
      child.on('error', reject);
      // A child that died before reading its start line must not take the benchmark down with an EPIPE.
      child.stdin.on('error', () => undefined);
    }
  });
  // A child's error after the race is decided must not surface as unhandled.
  failed.catch(() => undefined);
  const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
  const nextLine = async (i: number): Promise<string> => {
    const { value, done } = await lines[i].next();
    if (done) throw new Error(`fit-process ${i} ended before printing a line`);
    return value as string;
  };
  const run = async (): Promise<number> => {
    const ready = await Promise.all(children.map((_, i) => nextLine(i)));
    if (ready.some((l) => l !== 'ready')) throw new Error(`fit-process printed ${JSON.stringify(ready)} instead of ready`);
    for (const child of children) child.stdin.end('go\n');
    const windows = (await Promise.all(children.map((_, i) => nextLine(i)))).map((l) => JSON.parse(l) as FitWindow);
    const allFrom = Math.max(...windows.map((w) => w.trainingFromMs));
    const allTo = Math.min(...windows.map((w) => w.trainingToMs));
    if (windows.every((w) => w.startMs >= allFrom && w.endMs <= allTo)) {
      return windows.reduce((sum, w) => sum + w.images / ((w.endMs - w.startMs) / 1000), 0);
    }
    const span = Math.max(...windows.map((w) => w.endMs)) - Math.min(...windows.map((w) => w.startMs));
    return windows.reduce((sum, w) => sum + w.images, 0) / (span / 1000);
  };
  try {
    return await Promise.race([run(), failed]);
  } finally {
    clearTimeout(timer);
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}
