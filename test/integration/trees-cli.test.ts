import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { killAll, runCli, startCliFleet } from '../harness/processes';

const CANCER = join(ROOT, 'examples', 'data', 'breast_cancer.csv');

describe('tree families through the CLI: the examples train on 3 worker processes and tfleet predict loads them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-trees-'));
  let addr: string;

  beforeAll(async () => {
    addr = await startCliFleet(dir, 3, 'cpu');
  });
  afterAll(killAll);

  it.each(['gbdt', 'forest'])('examples/breast-cancer-%s.json: test accuracy ≥ 0.95, progress per round, predictions with probabilities', async (family) => {
    const out = join(dir, family);
    const res = await runCli(['submit', join(ROOT, 'examples', `breast-cancer-${family}.json`), '--coordinator', addr, '--set', `output=${out}`, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.state).toBe('succeeded');
    expect(job.metrics.test.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(job.epoch).toBe(job.epochs);

    const predicted = await runCli(['predict', '--model', out, '--input', CANCER, '--json']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const { rows, predictions } = JSON.parse(predicted.stdout);
    expect(rows).toBe(569);
    for (const p of predictions) {
      expect([0, 1]).toContain(p.label);
      expect(p.probabilities).toHaveLength(2);
      expect(p.probabilities[0] + p.probabilities[1]).toBeCloseTo(1, 9);
    }
    // The importance file names the features the splits used, largest gain first.
    const importance = JSON.parse(readFileSync(join(out, 'importance.json'), 'utf8')) as { feature: string; gain: number }[];
    expect(importance.length).toBeGreaterThan(0);
    expect(importance[0].gain).toBeGreaterThanOrEqual(importance[importance.length - 1].gain);
    expect(readFileSync(CANCER, 'utf8').split('\n')[0].split(',')).toContain(importance[0].feature);
  });

  it('refuses a tree spec with a training section at submit, naming the field', async () => {
    const res = await runCli(['submit', join(ROOT, 'examples', 'breast-cancer-gbdt.json'), '--coordinator', addr, '--set', 'training={"epochs":3,"batchSize":8}']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("'training' is not a section of family 'gbdt'");
  });
});
