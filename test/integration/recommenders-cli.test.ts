import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SHARED_DATA, requireFile } from '../harness/paths';
import { killAll, runCli, startCliFleet } from '../harness/processes';

const ML = join(SHARED_DATA, 'ml-100k');

describe('recommenders through the CLI: a MovieLens job on 2 worker processes, tfleet recommend, and bad ratings files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-recs-'));
  const train = requireFile(join(ML, 'u1.base'));
  const test = requireFile(join(ML, 'u1.test'));
  const titles = requireFile(join(ML, 'u.item'));
  let addr: string;

  beforeAll(async () => {
    addr = await startCliFleet(dir, 2, 'cpu');
  });
  afterAll(killAll);

  const submit = (example: string, trainPath: string, out: string, ...extra: string[]) => runCli([
    'submit', join(ROOT, 'examples', `movielens-${example}.json`), '--coordinator', addr,
    '--set', `data.train.path=${trainPath}`, '--set', `data.test.path=${test}`, '--set', 'workers=2', '--set', `output=${out}`, ...extra, '--wait', '--json',
  ]);

  it('refuses ratings files with a missing field, a rating that is not a number or one outside the scale, naming file and line; the next job trains', async () => {
    const good = readFileSync(train, 'utf8').split('\n').slice(0, 50);
    const cases: [string, (lines: string[]) => void, string][] = [
      ['missing-field.tsv', (l) => { l[6] = '1\t7'; }, 'line 7: expected 3 or 4 fields'],
      ['not-a-number.tsv', (l) => { l[11] = '1\t9\tfive\t8812'; }, "line 12 field 'rating': not a number"],
      ['out-of-scale.tsv', (l) => { l[19] = '1\t9\t7\t8812'; }, 'line 20'],
    ];
    for (const [name, spoil, message] of cases) {
      const lines = [...good];
      spoil(lines);
      const file = join(dir, name);
      writeFileSync(file, lines.join('\n') + '\n');
      const res = await submit('baseline', file, join(dir, name + '-out'));
      expect(res.code, name).not.toBe(0);
      expect(res.stderr).toContain(file);
      expect(res.stderr).toContain(message);
    }
    const out = join(dir, 'baseline');
    const res = await submit('baseline', train, out);
    expect(res.code, res.stderr).toBe(0);
    const job = JSON.parse(res.stdout);
    expect(job.state).toBe('succeeded');
    // Surprise's BaselineOnly (ALS) on u1: 0.9599 in the numpy reference.
    expect(job.metrics.test.rmse).toBeLessThan(0.961);
    expect(job.metrics.test.unknownItems).toBe(32);
    expect(job.metrics.test.precisionAtK).toBeGreaterThan(0.5);

    const predicted = await runCli(['predict', '--model', out, '--input', test, '--json']);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(JSON.parse(predicted.stdout).rows).toBe(20000);
  });

  it('tfleet recommend: the top items a user has not rated, with titles; the most rated items for a user training never saw', async () => {
    const out = join(dir, 'mf');
    const res = await submit('mf', train, out, '--set', 'model.epochs=5');
    expect(res.code, res.stderr).toBe(0);
    const rec = await runCli(['recommend', '--model', out, '--user', '42', '--top', '5', '--items', titles, '--json']);
    expect(rec.code, rec.stderr).toBe(0);
    const r = JSON.parse(rec.stdout) as { user: string; items: { item: string; score: number; title: string }[]; note?: string };
    expect(r.user).toBe('42');
    expect(r.note).toBeUndefined();
    expect(r.items).toHaveLength(5);
    const rated = new Set(readFileSync(train, 'utf8').split('\n').filter((l) => l.startsWith('42\t')).map((l) => l.split('\t')[1]));
    expect(rated.size).toBeGreaterThan(0);
    for (const it of r.items) {
      expect(rated.has(it.item)).toBe(false);
      expect(it.title.length).toBeGreaterThan(0);
      expect(it.score).toBeLessThanOrEqual(5);
    }
    for (let k = 1; k < r.items.length; k++) expect(r.items[k].score).toBeLessThanOrEqual(r.items[k - 1].score);

    const unknown = await runCli(['recommend', '--model', out, '--user', 'nobody', '--top', '3', '--json']);
    expect(unknown.code, unknown.stderr).toBe(0);
    const u = JSON.parse(unknown.stdout);
    expect(u.note).toContain("user 'nobody' is not in the training data");
    // Item 50 (Star Wars) is the most rated in u1.base.
    expect(u.items[0].item).toBe('50');
    const unknownText = await runCli(['recommend', '--model', out, '--user', 'nobody', '--top', '1']);
    expect(unknownText.stdout.split('\n')[1]).toBe(`1. 50\t${u.items[0].score} ratings`);
    const text = await runCli(['recommend', '--model', out, '--user', '42', '--top', '2', '--items', titles]);
    expect(text.stdout.split('\n')[0]).toMatch(/^1\. \d+\t\d\.\d{3}\t.+/);
  });
});
