import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../../shared/config/job-spec';
import { loadDataset } from '../../../shared/data/dataset';

const dir = mkdtempSync(join(tmpdir(), 'tfleet-ratings-ds-'));

function ratingsFile(name: string, rows: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.join('\n') + '\n');
  return path;
}

const spec = (train: string, test: object) => parseJobSpec({ model: { family: 'mf' }, data: { train: { format: 'ratings', path: train }, test }, workers: 1 });

describe('ratings data sets: ids by the training rows, grouped for sharding', () => {
  it('groups training rows by user (or item) and test rows by user; unseen test ids come after the known ones', async () => {
    const train = ratingsFile('train.tsv', ['b\tx\t4', 'a\ty\t3', 'b\ty\t5', 'a\tx\t1', 'c\tz\t2']);
    const test = ratingsFile('test.tsv', ['new\tx\t3', 'a\tq\t4', 'b\tz\t2']);
    const data = await loadDataset(spec(train, { format: 'ratings', path: test }), () => 'regressor');
    expect(data.train.ids).toEqual({ users: ['b', 'a', 'c'], items: ['x', 'y', 'z'] });
    // Users in order of first appearance (b = 0, a = 1, c = 2), each user's ratings in file order.
    expect([...data.train.x]).toEqual([0, 0, 0, 1, 1, 1, 1, 0, 2, 2]);
    expect([...data.train.y]).toEqual([4, 5, 3, 1, 2]);
    // Test: b (0), a (1) with the unseen item q (3), the unseen user 'new' (3) last.
    expect([...data.test!.x]).toEqual([0, 2, 1, 3, 3, 0]);
    expect(data.ratingScale).toEqual([1, 5]);
    const byItem = await loadDataset(spec(train, { format: 'ratings', path: test }), () => 'regressor', 'item');
    expect([...byItem.train.x].filter((_, i) => i % 2 === 1)).toEqual([0, 0, 1, 1, 2]);
  });

  it('re-indexes after a seeded holdout: a user whose ratings all went to the test set is unknown there', async () => {
    const rows = Array.from({ length: 60 }, (_, r) => `u${r % 12}\ti${r % 7}\t${1 + (r % 5)}`);
    rows.push('lonely\ti0\t5');
    const data = await loadDataset(spec(ratingsFile('all.tsv', rows), { split: 0.3 }), () => 'regressor');
    expect(data.train.rows + data.test!.rows).toBe(61);
    const known = data.train.ids!.users.length;
    for (let r = 0; r < data.train.rows; r++) expect(data.train.x[2 * r]).toBeLessThan(known);
    const lonelyTrained = data.train.ids!.users.includes('lonely');
    const unknownInTest = [...data.test!.x].filter((v, i) => i % 2 === 0 && v >= known).length;
    expect(unknownInTest).toBe(lonelyTrained ? 0 : 1);
    // The same seed, the same split.
    const again = await loadDataset(spec(ratingsFile('all2.tsv', rows), { split: 0.3 }), () => 'regressor');
    expect([...again.test!.y]).toEqual([...data.test!.y]);
  });

  it('refuses a test file of another format', async () => {
    const train = ratingsFile('t.tsv', ['1\t1\t4', '2\t1\t3']);
    const csv = join(dir, 'other.csv');
    writeFileSync(csv, 'a,b\n1,2\n');
    await expect(loadDataset(parseJobSpec({ model: { family: 'mf' }, data: { train: { format: 'ratings', path: train }, test: { format: 'csv', path: csv, label: 'b' } }, workers: 1 }), () => 'regressor'))
      .rejects.toThrow("the test file must be of format 'ratings'");
  });
});
