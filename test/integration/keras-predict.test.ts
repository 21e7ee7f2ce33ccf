import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { parseCsv, parseIdx } from '../../shared/data';
import { loadLayersModel } from '../../shared/families/tfjs-io';
import { fashionMnist, ROOT } from '../harness/paths';
import { killAll, runCli, startCliFleet } from '../harness/processes';

const WINE = join(ROOT, 'examples', 'data', 'wine.csv');

describe('keras topologies and tfleet predict, through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-keras-'));
  let addr: string;

  beforeAll(async () => {
    addr = await startCliFleet(dir, 2, 'wasm');
  });
  afterAll(killAll);

  it('trains a topology saved from tfjs; the exported model loads with tf.loadLayersModel and predicts what tfleet predict prints', async () => {
    await tf.setBackend('cpu');
    const network = tfl.sequential({ layers: [
      tfl.layers.dense({ inputShape: [13], units: 16, activation: 'relu' }),
      tfl.layers.dropout({ rate: 0.1 }),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ] });
    writeFileSync(join(dir, 'topology.json'), network.toJSON() as string);
    network.dispose();
    const out = join(dir, 'keras-wine');
    writeFileSync(join(dir, 'keras.json'), JSON.stringify({
      model: { family: 'keras', topologyFile: 'topology.json' },
      data: { train: { path: WINE, label: 'target' }, test: { split: 0.2 } },
      training: { epochs: 40, batchSize: 16, optimizer: { name: 'adam', learningRate: 0.01 } },
      workers: 2, seed: 3, output: out,
    }));
    const res = await runCli(['submit', join(dir, 'keras.json'), '--coordinator', addr, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.metrics.test.accuracy).toBeGreaterThanOrEqual(0.9);

    const predicted = await runCli(['predict', '--model', out, '--input', WINE, '--json', '--backend', 'cpu']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const { rows, predictions } = JSON.parse(predicted.stdout);
    expect(rows).toBe(178);

    // The same rows through tf.loadLayersModel, standardized with the saved normalizer.
    const meta = JSON.parse(readFileSync(join(out, 'tfleet-model.json'), 'utf8'));
    const table = parseCsv(readFileSync(WINE, 'utf8'), { format: 'csv', path: WINE, label: 'target' });
    const x = table.x.map((v, i) => (v - meta.normalizer.mean[i % 13]) / meta.normalizer.std[i % 13]);
    const model = await loadLayersModel(out);
    const probabilities = (model.predict(tf.tensor2d(x, [178, 13])) as tf.Tensor).arraySync() as number[][];
    let maxDiff = 0;
    let correct = 0;
    probabilities.forEach((p, r) => {
      p.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - predictions[r].probabilities[k]))));
      if (predictions[r].label === table.y[r]) correct++;
    });
    expect(maxDiff).toBeLessThan(1e-5);
    expect(correct / 178).toBeGreaterThan(0.9);
  });

  it('refuses a topology with an unsupported layer at submit, naming it', async () => {
    await tf.setBackend('cpu');
    const network = tfl.sequential({ layers: [tfl.layers.separableConv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3 }), tfl.layers.flatten(), tfl.layers.dense({ units: 10, activation: 'softmax' })] });
    writeFileSync(join(dir, 'separable.json'), network.toJSON() as string);
    network.dispose();
    writeFileSync(join(dir, 'bad-keras.json'), JSON.stringify({
      model: { family: 'keras', topologyFile: 'separable.json' },
      data: { train: { format: 'idx', ...fashionMnist('t10k') } },
      training: { epochs: 1, batchSize: 32 },
    }));
    const res = await runCli(['submit', join(dir, 'bad-keras.json'), '--coordinator', addr]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("tfleet: job spec: 'model.topology' uses layers tfleet cannot train: SeparableConv2D (supported:");
  });

  it('predicts an IDX images file with a CNN trained on IDX data', async () => {
    const out = join(dir, 'cnn');
    const res = await runCli(['submit', join(ROOT, 'examples', 'fashion-mnist-cnn.json'), '--coordinator', addr, '--wait', '--json',
      '--set', `data.train.images=${fashionMnist('train').images}`, '--set', `data.train.labels=${fashionMnist('train').labels}`,
      '--set', `data.test.images=${fashionMnist('t10k').images}`, '--set', `data.test.labels=${fashionMnist('t10k').labels}`,
      '--set', 'data.train.limit=1500', '--set', 'data.test.limit=500', '--set', 'training.epochs=1', '--set', `output=${out}`]);
    expect(res.code, res.stderr).toBe(0);
    const predicted = await runCli(['predict', '--model', out, '--input', fashionMnist('t10k').images, '--backend', 'wasm']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const labels = predicted.stdout.trim().split('\n').map(Number);
    expect(labels).toHaveLength(10000);
    const y = parseIdx(gunzipSync(readFileSync(fashionMnist('t10k').labels)), 'labels').values;
    // One epoch on 1,500 images: well above chance (0.1) on all 10,000 test images.
    const accuracy = labels.filter((l, i) => l === y[i]).length / labels.length;
    expect(accuracy).toBeGreaterThan(0.5);
  });
});
