import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { killAll, runCli, startCliFleet } from '../harness/processes';

const YELP = join(ROOT, 'examples', 'data', 'yelp_labelled.txt');

describe('text through the CLI: the sentiment example on 2 worker processes, tfleet predict on raw text, bad text input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-text-'));
  let addr: string;

  beforeAll(async () => {
    addr = await startCliFleet(dir, 2, 'cpu');
  });
  afterAll(killAll);

  it('examples/sentiment-naive-bayes.json trains from the shipped file, and predict reads raw text', async () => {
    const out = join(dir, 'nb');
    const res = await runCli(['submit', join(ROOT, 'examples', 'sentiment-naive-bayes.json'), '--coordinator', addr, '--set', `output=${out}`, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.metrics.test.accuracy).toBeGreaterThanOrEqual(0.775);
    const input = join(dir, 'sentences.txt');
    writeFileSync(input, 'The food was delicious and the staff were lovely.\t1\nWorst service ever, cold and bland.\t0\n');
    const predicted = await runCli(['predict', '--model', out, '--input', input, '--json']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const { predictions } = JSON.parse(predicted.stdout);
    expect(predictions.map((p: { label: number }) => p.label)).toEqual([1, 0]);
  });

  it('refuses text for a family that does not read it, naming the field, and a broken JSONL line, naming the line', async () => {
    const mlp = await runCli(['submit', join(ROOT, 'examples', 'sentiment-naive-bayes.json'), '--coordinator', addr, '--set', 'model={"family":"mlp"}', '--set', 'training={"epochs":1,"batchSize":8}']);
    expect(mlp.code).not.toBe(0);
    expect(mlp.stderr).toContain("data.train.text: family 'mlp' does not read text");
    const jsonl = join(dir, 'reviews.jsonl');
    writeFileSync(jsonl, '{"text":"good","label":"pos"}\n{"text":"bad","label":"neg"}\n{"text": "broken\n');
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ model: { family: 'naive-bayes' }, data: { train: { path: jsonl, format: 'jsonl', text: 'text', label: 'label' } }, workers: 1 }));
    const bad = await runCli(['submit', spec, '--coordinator', addr]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`${jsonl} line 3`);
  });

  it('string labels: classes by name, and predict prints the names', async () => {
    const jsonl = join(dir, 'named.jsonl');
    const rows = ['great food, lovely staff', 'awful, cold and bland', 'really great place', 'bland and awful service'];
    writeFileSync(jsonl, Array.from({ length: 20 }, (_, i) => JSON.stringify({ text: rows[i % 4], label: i % 2 === 0 ? 'pos' : 'neg' })).join('\n') + '\n');
    const out = join(dir, 'named');
    const spec = join(dir, 'named.json');
    writeFileSync(spec, JSON.stringify({ model: { family: 'naive-bayes' }, data: { train: { path: jsonl, format: 'jsonl', text: 'text', label: 'label' } }, workers: 2, output: out }));
    const res = await runCli(['submit', spec, '--coordinator', addr, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).metrics.train.accuracy).toBe(1);
    const predicted = await runCli(['predict', '--model', out, '--input', jsonl]);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stdout.trim().split('\n').slice(0, 4)).toEqual(['pos', 'neg', 'pos', 'neg']);
  });
});
