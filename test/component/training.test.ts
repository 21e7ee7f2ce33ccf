import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../shared/data';
import { InProcessFleet, savedWeights, startInProcessFleet, trainToEnd } from '../harness/fleet';
import { SKLEARN, requireFile } from '../harness/paths';

const csv = (name: string) => requireFile(join(SKLEARN, name));

/** Solves A x = b by Gaussian elimination with partial pivoting (float64). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

describe('training on a fleet over gRPC', () => {
  let one: InProcessFleet;
  let three: InProcessFleet;
  beforeAll(async () => {
    [one, three] = await Promise.all([startInProcessFleet(1), startInProcessFleet(3)]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), three?.stop()]);
  });

  it('aggregates exactly: 50 full-batch steps on 1 and on 3 workers give the same weights', async () => {
    const spec = (workers: number, fleet: InProcessFleet) => ({
      model: { family: 'softmax' },
      data: { train: { path: csv('wine.csv'), label: 'target' } },
      training: { epochs: 50, batchSize: 1000, optimizer: { name: 'sgd', learningRate: 0.5 } },
      workers, seed: 3, output: join(fleet.dir, `exact-${workers}`),
    });
    const [a, b] = await Promise.all([trainToEnd(one.api, spec(1, one)), trainToEnd(three.api, spec(3, three))]);
    expect(a.state).toBe('succeeded');
    expect(b.state).toBe('succeeded');
    const wa = await savedWeights(a.output);
    const wb = await savedWeights(b.output);
    expect(wa.length).toBe(14 * 3);
    let maxDiff = 0;
    for (let i = 0; i < wa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wa[i] - wb[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // And the run did move the weights: the loss fell well below log(3).
    expect(b.metrics.train.values.loss).toBeLessThan(0.2);
  });

  it('linear reaches the closed-form least-squares solution (diabetes, 3 workers)', async () => {
    const path = csv('diabetes.csv');
    const record = await trainToEnd(three.api, {
      model: { family: 'linear' },
      data: { train: { path, label: 'target' } },
      training: { epochs: 1500, batchSize: 1000, optimizer: { name: 'momentum', learningRate: 0.2, momentum: 0.9 } },
      workers: 3, seed: 1, output: join(three.dir, 'diabetes-linear'),
    });
    expect(record.state).toBe('succeeded');
    const t = parseCsv(await readFile(path, 'utf8'), { path, format: 'csv', label: 'target', delimiter: ',' });
    // Normal equations on [x, 1] in float64, computed here independently of the fleet.
    const d = t.cols + 1;
    const AtA = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    const Aty = new Array<number>(d).fill(0);
    for (let r = 0; r < t.rows; r++) {
      const row = [...t.x.subarray(r * t.cols, (r + 1) * t.cols), 1];
      for (let i = 0; i < d; i++) {
        Aty[i] += row[i] * t.y[r];
        for (let j = 0; j < d; j++) AtA[i][j] += row[i] * row[j];
      }
    }
    const exact = solve(AtA, Aty);
    // The model learned on standardized features: map its weights back to raw units.
    const meta = JSON.parse(await readFile(join(record.output, 'tfleet-model.json'), 'utf8'));
    const w = await savedWeights(record.output);
    const { mean, std } = meta.normalizer as { mean: number[]; std: number[] };
    const raw = mean.map((_, i) => w[i] / std[i]);
    const bias = w[t.cols] - mean.reduce((s, m, i) => s + (w[i] * m) / std[i], 0);
    const fitted = [...raw, bias];
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    const relErr = norm(fitted.map((v, i) => v - exact[i])) / norm(exact);
    expect(relErr).toBeLessThan(1e-3);
  });

  it('trains the same weights from shards streamed by the coordinator as from the files', async () => {
    const spec = (shards: string) => ({
      model: { family: 'mlp', hidden: [8] },
      data: { train: { path: csv('wine.csv'), label: 'target' }, test: { split: 0.25 }, shards },
      training: { epochs: 5, batchSize: 8, shuffle: true, optimizer: { name: 'sgd', learningRate: 0.1 } },
      workers: 3, seed: 9, output: join(three.dir, `shards-${shards}`),
    });
    const local = await trainToEnd(three.api, spec('local'));
    const streamed = await trainToEnd(three.api, spec('coordinator'));
    expect(local.state).toBe('succeeded');
    expect(streamed.state, streamed.error).toBe('succeeded');
    expect([...(await savedWeights(streamed.output))]).toEqual([...(await savedWeights(local.output))]);
    expect(streamed.metrics.test.values).toEqual(local.metrics.test.values);
  });

  // Seeded, stratified 80/20 holdout (seed 7); 3 workers; bulk-synchronous Adam.
  it.each([
    ['softmax', 'wine.csv', { family: 'softmax' }, 60, 16],
    ['mlp', 'wine.csv', { family: 'mlp', hidden: [32], dropout: 0.1 }, 60, 16],
    ['softmax', 'breast_cancer.csv', { family: 'softmax' }, 40, 32],
    ['mlp', 'breast_cancer.csv', { family: 'mlp', hidden: [32, 16] }, 40, 32],
  ])('%s on %s reaches test accuracy ≥ 0.94', async (_family, file, model, epochs, batchSize) => {
    const record = await trainToEnd(three.api, {
      model, data: { train: { path: csv(file), label: 'target' }, test: { split: 0.2 } },
      training: { epochs, batchSize, optimizer: { name: 'adam', learningRate: 0.01 } },
      workers: 3, seed: 7, output: join(three.dir, `${file}-${model.family}`),
    });
    expect(record.state).toBe('succeeded');
    expect(record.metrics.test.values.accuracy).toBeGreaterThanOrEqual(0.94);
  });
});
