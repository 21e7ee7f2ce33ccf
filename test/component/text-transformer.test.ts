import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../shared/data/dataset';
import { validateJob } from '../../shared/job';
import { loadPredictor } from '../../shared/predict';
import { InProcessFleet, startInProcessFleet, trainToEnd } from '../harness/fleet';
import { SHARED_DATA, requireFile } from '../harness/paths';

const YELP = requireFile(join(SHARED_DATA, 'sentiment', 'yelp_labelled.txt'));
const source = (path: string) => ({ path, format: 'csv', delimiter: '\t', header: false, columns: ['text', 'label'], text: 'text', label: 'label' });

/**
 * The transformer on raw text (yelp sentences as token sequences), on a
 * 2-worker wasm fleet of its own: the tfjs backend is one per process.
 */
describe('transformer on text', () => {
  let wasm: InProcessFleet;
  beforeAll(async () => {
    wasm = await startInProcessFleet(2, 'wasm');
  });
  afterAll(async () => {
    await wasm?.stop();
  });

  it('transformer on yelp token sequences beats chance clearly (≥ 0.7; chance is 0.5), and its saved model predicts what the job evaluated', async () => {
    const spec = {
      model: { family: 'transformer', layers: 1, heads: 4, dim: 32, ffDim: 64 }, workers: 2, seed: 11, output: join(wasm.dir, 'transformer-yelp'),
      data: { train: source(YELP), test: { split: 0.2 }, text: { length: 32 } },
      training: { epochs: 10, batchSize: 32, optimizer: { name: 'adam', learningRate: 0.003 } },
    };
    const a = await trainToEnd(wasm.api, spec);
    expect(a.error).toBe('');
    const accuracy = a.metrics.test.values.accuracy;
    expect(accuracy).toBeGreaterThanOrEqual(0.7);
    // The job's own test rows, written out as a raw text file: the reloaded model scores them the same.
    const { spec: validated } = validateJob(spec);
    const data = await loadDataset(validated, () => 'classifier');
    const testFile = join(wasm.dir, 'yelp-test.tsv');
    await writeFile(testFile, data.test!.texts!.map((t, r) => `${t.replace(/[\t\n"]/g, ' ')}\t${data.test!.y[r]}`).join('\n') + '\n');
    const p = await loadPredictor(a.output);
    const predicted = p.predict(await p.readInput(testFile));
    const correct = predicted.filter((q, r) => 'label' in q && q.label === data.test!.y[r]).length;
    expect(correct / predicted.length).toBeCloseTo(accuracy, 2);
    p.dispose();
  }, 120_000);

});
