import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { readTable } from '../../shared/data';
import { buildCnn } from '../../shared/families/cnn/model';
import { parseCnnSpec } from '../../shared/families/cnn/spec';
import { DataInfo } from '../../shared/families/types';
import { selectBackend } from '../../worker/backends/select';
import { nativeAddon } from '../harness/backends';
import { fashionMnist } from '../harness/paths';

const INFO: DataInfo = { numFeatures: 784, featureNames: [], sampleShape: [28, 28], valueRange: [0, 1], labelName: 'label', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], missingValues: 0 };
const IMAGES = 512;
const EPOCHS = 4;
/**
 * Largest relative difference of an epoch's mean loss between native and
 * wasm. Both sum the same products in other orders (float32 rounding of
 * about 1e-7 a kernel), and training amplifies the difference step by step:
 * measured, 3e-6, 6e-5, 2e-4 and 1.9e-3 after epochs 1 to 4 (32 Adam steps).
 */
const CURVE_TOLERANCE = 0.01;

/** The two-conv CNN trained from the same seed on the same batches in the same order: its loss after each epoch. */
async function lossCurve(backend: 'wasm' | 'native'): Promise<number[]> {
  await selectBackend(backend, { threads: 1 });
  const table = await readTable({ format: 'idx', ...fashionMnist('train'), limit: IMAGES });
  const x = tf.tensor4d(table.x, [IMAGES, 28, 28, 1]);
  const y = tf.tensor2d(table.y, [IMAGES, 1]);
  const model = buildCnn(parseCnnSpec({ family: 'cnn', preset: 'two-conv' }), INFO, 7, 'softmax');
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy' });
  const history = await model.fit(x, y, { epochs: EPOCHS, batchSize: 64, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  model.dispose();
  return history.history.loss as number[];
}

describe.skipIf(!nativeAddon.ok)('training on the native backend', () => {
  it(`follows wasm's loss curve on Fashion-MNIST within a relative ${CURVE_TOLERANCE} per epoch`, async () => {
    const wasm = await lossCurve('wasm');
    const native = await lossCurve('native');
    expect(wasm[EPOCHS - 1]).toBeLessThan(wasm[0]); // it learned
    for (let e = 0; e < EPOCHS; e++) expect(Math.abs(native[e] - wasm[e]) / wasm[e], `epoch ${e + 1}`).toBeLessThan(CURVE_TOLERANCE);
  });

  it('leaks no tensor, heap or native memory over 1,000 steps', async () => {
    await selectBackend('native', { threads: 1 });
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [12, 12, 2], filters: 8, kernelSize: 3, activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tfl.layers.averagePooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 16, activation: 'relu' }),
        tfl.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
    const x = tf.randomUniform([16, 12, 12, 2], 0, 1, 'float32', 1);
    const y = tf.tensor2d(Array.from({ length: 16 }, (_, i) => i % 3), [16, 1]);
    const step = async () => void (await model.trainOnBatch(x, y));
    for (let i = 0; i < 100; i++) await step();
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const primitives = nativeAddon.ok ? nativeAddon.addon.cachedPrimitives() : 0;
    const rss = process.memoryUsage().rss;
    for (let i = 0; i < 900; i++) await step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    // One primitive per kernel and shape, built in the first step and reused since.
    expect(nativeAddon.ok ? nativeAddon.addon.cachedPrimitives() : 0).toBe(primitives);
    // A leak of one step's native buffers (tens of KiB) would pass 9 MiB over 900 steps.
    expect(process.memoryUsage().rss - rss).toBeLessThan(24 << 20);
    tf.dispose([x, y]);
    model.dispose();
  });
});
