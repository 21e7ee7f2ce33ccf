import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSource, parseJobSpec } from '../../../shared/config/job-spec';
import { readTable } from '../../../shared/data/read';
import { detectRatingDelimiter, isRatings, parseRatings, reindexRatings } from '../../../shared/data/ratings';
import { rowOrigin, selectRows, Table } from '../../../shared/data/table';
import { DataError, SpecError } from '../../../shared/errors';
import { SHARED_DATA, requireFile } from '../../harness/paths';

const dir = mkdtempSync(join(tmpdir(), 'tfleet-ratings-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const src = (path: string, extra: Partial<FileSource> = {}): FileSource => ({ format: 'ratings', path, label: 'rating', ...extra });
const read = (name: string, text: string, extra: Partial<FileSource> = {}): Promise<Table> => readTable(src(file(name, text), extra));
const pairs = (t: Table): number[][] => Array.from({ length: t.rows }, (_, r) => [t.x[2 * r], t.x[2 * r + 1]]);

describe('ratings reader', () => {
  it('reads tab-separated rows (MovieLens 100K) into dense user and item indices, ignoring the timestamp', async () => {
    const t = await read('u.data', '196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n');
    expect(t).toMatchObject({ featureNames: ['user', 'item'], sampleShape: [2], cols: 2, labelName: 'rating', rows: 3, firstRowLine: 1 });
    expect(pairs(t)).toEqual([[0, 0], [1, 1], [0, 1]]);
    expect([...t.y]).toEqual([3, 3, 1]);
    expect(t.ids).toEqual({ users: ['196', '186'], items: ['242', '302'] });
    expect(isRatings(t)).toBe(true);
  });

  it("reads '::'-separated rows (MovieLens 1M) and ids of any form", async () => {
    const t = await read('ratings.dat', 'ann::Toy Story, (1995)::5::978300760\nbob::tt0114709::4\r\nann::tt0114709::2.5\r\n\r\n\n');
    expect(pairs(t)).toEqual([[0, 0], [1, 1], [0, 1]]);
    expect([...t.y]).toEqual([5, 4, 2.5]);
    expect(t.ids).toEqual({ users: ['ann', 'bob'], items: ['Toy Story, (1995)', 'tt0114709'] });
  });

  it('skips the header of a comma-separated file (MovieLens latest), so row 0 is line 2', async () => {
    const t = await read('ratings.csv', 'userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n7,31,4.5,1260759185\n');
    expect(t.rows).toBe(3);
    expect(t.firstRowLine).toBe(2);
    expect(rowOrigin(t, 2)).toBe('line 4');
    expect([...t.y]).toEqual([2.5, 3, 4.5]);
    expect(t.ids).toEqual({ users: ['1', '7'], items: ['31', '1029'] });
  });

  it('counts leading blank lines in the line numbers', async () => {
    const t = await read('lead.tsv', '\n\nu\ti\t4\n');
    expect(t.firstRowLine).toBe(3);
  });

  it('detects the delimiter that splits the first line into 3 or 4 fields, and takes a declared one instead', async () => {
    expect(detectRatingDelimiter('1\t2\t3')).toBe('\t');
    expect(detectRatingDelimiter('1::2::3::4')).toBe('::');
    expect(detectRatingDelimiter('userId,movieId,rating,timestamp')).toBe(',');
    expect(detectRatingDelimiter('a, b\tc\t5')).toBe('\t');
    // Tabs inside comma-separated ids fool the detection; the spec's delimiter settles it.
    const text = 'x\ty,i\tj,4\nx\ty,i\tj,5\n';
    await expect(read('fooled.csv', text)).rejects.toThrow("fooled.csv line 2 field 'rating': not a number: 'j,5'");
    const forced = await read('forced.csv', text, { delimiter: ',' });
    expect(forced.ids).toEqual({ users: ['x\ty'], items: ['i\tj'] });
    expect([...forced.y]).toEqual([4, 5]);
  });

  it('reads only the first rows given a limit, and maps only the ids they use', async () => {
    const t = await read('limit.tsv', 'a\tp\t1\nb\tq\t2\nc\tr\t3\n', { limit: 2 });
    expect(t.rows).toBe(2);
    expect(t.ids).toEqual({ users: ['a', 'b'], items: ['p', 'q'] });
  });

  it('bounds ratings by a declared scale', async () => {
    const ok = await read('scale-ok.tsv', 'a\tp\t1\na\tq\t5\n', { scale: [1, 5] });
    expect([...ok.y]).toEqual([1, 5]);
  });

  const goodRows = (n: number): string => Array.from({ length: n }, (_, i) => `${i % 7}\t${i}\t4\t881250949\n`).join('');
  // Each malformed file with the exact error after its path.
  const bad: Array<[string, string, Partial<FileSource>, string]> = [
    ['a row with 2 fields', goodRows(117) + '5\t9\n', {}, ' line 118: expected 3 or 4 fields (user, item, rating[, timestamp]) separated by tab, got 2'],
    ['a row with 5 fields', '1::2::3::4::5\n', {}, " line 1: expected 3 or 4 fields (user, item, rating[, timestamp]) separated by '::', got 5"],
    ['a line with no delimiter', 'hello\n', {}, ' line 1: expected 3 or 4 fields (user, item, rating[, timestamp]) separated by tab, got 1'],
    ['a non-numeric rating', 'userId,movieId,rating\n' + '1,2,3\n'.repeat(5) + '1,2,x\n', {}, " line 7 field 'rating': not a number: 'x'"],
    ['a rating outside the scale', 'u\ti\t1\n'.repeat(8) + 'u\ti\t7\n', { scale: [1, 5] }, " line 9 field 'rating': 7 is outside the declared scale [1, 5]"],
    ['an empty user id', 'u\ti\t1\n\ti\t2\n', {}, " line 2 field 'user': empty id"],
    ['an empty item id', 'u,i,1\nu, ,2\n', {}, " line 2 field 'item': empty id"],
    ['a blank line among the rows', 'u\ti\t1\n\nu\ti\t2\n', {}, ' line 2: empty line among the rows (expected user, item, rating[, timestamp])'],
    ['a long bad rating, quoted only in part', `u\ti\t${'9'.repeat(30)}zzzzzzzzzzzzzzzzzzzz\n`.repeat(2), {}, ` line 2 field 'rating': not a number: '${'9'.repeat(30)}zzzzzzzzzz…'`],
    ['a header without rows', 'userId,movieId,rating,timestamp\n\n', {}, ': no rating rows after the header'],
    ['an empty file', '\n \n', {}, ': empty file, expected rows of user, item, rating[, timestamp]'],
  ];
  it.each(bad)('refuses %s, naming the file and line', async (what, text, extra, message) => {
    const path = file(`bad-${what.replace(/\W+/g, '-')}.txt`, text);
    const failure = readTable(src(path, extra));
    await expect(failure).rejects.toThrow(DataError);
    await expect(failure).rejects.toThrow(path + message);
  });

  it('refuses more distinct users than float32 indices hold, naming the count', () => {
    expect(() => parseRatings('a\tp\t1\nb\tp\t1\nc\tp\t1\n', src('many.tsv'), { maxIds: 2 }))
      .toThrow("many.tsv line 3 field 'user': 3 distinct users; at most 2 fit, as indices are float32, exact only up to 2^24");
  });
});

describe('reindexRatings', () => {
  it('maps a separate test file into the training index space; unseen ids follow the known ones', async () => {
    const train = await read('train.tsv', 'a\tp\t1\nb\tq\t2\na\tq\t3\n');
    const test = await read('test.tsv', 'z\tq\t4\nb\tnew1\t5\nz\tnew2\t1\nb\tp\t2\ny\tnew1\t3\n');
    const r = reindexRatings(train, test);
    expect(pairs(r.train)).toEqual([[0, 0], [1, 1], [0, 1]]);
    expect(r.train.ids).toEqual({ users: ['a', 'b'], items: ['p', 'q'] });
    // z → 2 and y → 3 (unseen users), new1 → 2 and new2 → 3 (unseen items), in test order.
    expect(pairs(r.test!)).toEqual([[2, 1], [1, 2], [2, 3], [1, 0], [3, 2]]);
    expect(r.test!.ids).toBe(r.train.ids);
    expect([...r.test!.y]).toEqual([4, 5, 1, 2, 3]);
  });

  it('makes the training ids exact after a holdout', async () => {
    const all = await read('all.tsv', 'a\tp\t1\nb\tq\t2\nc\tr\t3\nc\tp\t4\n');
    const r = reindexRatings(selectRows(all, [2, 3]), selectRows(all, [0, 1]));
    expect(r.train.ids).toEqual({ users: ['c'], items: ['r', 'p'] });
    expect(pairs(r.train)).toEqual([[0, 0], [0, 1]]);
    expect(pairs(r.test!)).toEqual([[1, 1], [2, 2]]);
    expect(reindexRatings(r.train, null).test).toBeNull();
  });

  it('refuses a table that is not ratings', async () => {
    const ratings = await read('r.tsv', 'a\tp\t1\n');
    const { ids: _ids, ...plain } = ratings;
    expect(isRatings(plain)).toBe(false);
    expect(() => reindexRatings(ratings, plain)).toThrow('is not a ratings table (it has no ids)');
    expect(() => reindexRatings(plain, null)).toThrow('is not a ratings table (it has no ids)');
  });
});

describe('MovieLens 100K', () => {
  const ml100k = (name: string): string => requireFile(join(SHARED_DATA, 'ml-100k', name));

  it('reads u1.base: 80,000 ratings of 943 users on 1,650 items', async () => {
    const t = await readTable(src(ml100k('u1.base'), { scale: [1, 5] }));
    expect(t.rows).toBe(80_000);
    expect(t.ids!.users.length).toBe(943);
    expect(t.ids!.items.length).toBe(1650);
    expect(t.firstRowLine).toBe(1);
    expect([t.ids!.users[t.x[0]], t.ids!.items[t.x[1]], t.y[0]]).toEqual(['1', '1', 5]);
    expect(t.y.reduce((s, v) => s + v, 0)).toBe(282_268);
  });

  it('maps u1.test into u1.base: every user known, 32 items unseen in training', async () => {
    const { train, test } = reindexRatings(await readTable(src(ml100k('u1.base'))), await readTable(src(ml100k('u1.test'))));
    expect(test!.rows).toBe(20_000);
    let unseenUsers = 0;
    const unseenItems = new Set<number>();
    let unseenItemRows = 0;
    for (let r = 0; r < test!.rows; r++) {
      if (test!.x[2 * r] >= train.ids!.users.length) unseenUsers++;
      if (test!.x[2 * r + 1] >= train.ids!.items.length) { unseenItems.add(test!.x[2 * r + 1]); unseenItemRows++; }
    }
    expect(unseenUsers).toBe(0);
    expect([...unseenItems].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, k) => 1650 + k));
    expect(unseenItemRows).toBe(32);
  });
});

describe('job spec for ratings', () => {
  const spec = (train: Record<string, unknown>, test?: Record<string, unknown>) => ({
    model: { family: 'linear' }, data: { train, ...(test ? { test } : {}) }, training: { epochs: 1, batchSize: 8 },
  });

  it('implies the label, leaves the delimiter to detection, does not standardize ids, and gives the test file the scale', () => {
    const s = parseJobSpec(spec({ format: 'ratings', path: 'u1.base', scale: [1, 5] }, { path: 'u1.test' }));
    expect(s.data.train).toEqual({ format: 'ratings', path: 'u1.base', label: 'rating', scale: [1, 5] });
    expect(s.data.test).toEqual({ format: 'ratings', path: 'u1.test', label: 'rating', scale: [1, 5] });
    expect(s.data.normalize).toBe(false);
    expect(parseJobSpec(spec({ format: 'ratings', path: 'r.dat', delimiter: '::' })).data.train.delimiter).toBe('::');
  });

  it('keeps idx scale a number and csv delimiters one character', () => {
    expect(parseJobSpec(spec({ format: 'idx', images: 'i.gz', labels: 'l.gz', scale: 0.5 })).data.train.scale).toBe(0.5);
    expect(parseJobSpec(spec({ path: 'a.csv', label: 'y', delimiter: ';' })).data.train.delimiter).toBe(';');
  });

  it.each([
    ['a label', { format: 'ratings', path: 'r', label: 'stars' }, "job spec: 'data.train.label' is not a field of format 'ratings' (allowed: format, path, delimiter, scale, limit)"],
    ['a number scale on ratings', { format: 'ratings', path: 'r', scale: 5 }, "job spec: 'data.train.scale' must be [min, max] with min < max for format 'ratings', got 5"],
    ['a reversed scale', { format: 'ratings', path: 'r', scale: [5, 1] }, "job spec: 'data.train.scale' must be [min, max] with min < max for format 'ratings', got [5,1]"],
    ['a scale of three numbers', { format: 'ratings', path: 'r', scale: [1, 3, 5] }, "job spec: 'data.train.scale' must be [min, max] with min < max for format 'ratings', got [1,3,5]"],
    ['a pair scale on idx', { format: 'idx', images: 'i', labels: 'l', scale: [0, 1] }, "job spec: 'data.train.scale' must be a number > 0 for format 'idx', got [0,1]"],
    ['a zero idx scale', { format: 'idx', images: 'i', labels: 'l', scale: 0 }, "job spec: 'data.train.scale' must be a number > 0 for format 'idx', got 0"],
    ['a string scale', { format: 'ratings', path: 'r', scale: 'big' }, "job spec: 'data.train.scale' must be a number or an array, got \"big\""],
    ['a pipe delimiter on ratings', { format: 'ratings', path: 'r', delimiter: '|' }, "job spec: 'data.train.delimiter' must be one of \"\\t\", \"::\", \",\" for format 'ratings', got \"|\""],
    ['a two-character csv delimiter', { path: 'a.csv', label: 'y', delimiter: '::' }, "job spec: 'data.train.delimiter' must be a string of exactly 1 character for format 'csv', got \"::\""],
  ])('refuses %s, naming the field', (_what, train, message) => {
    expect(() => parseJobSpec(spec(train))).toThrow(SpecError);
    expect(() => parseJobSpec(spec(train))).toThrow(message);
  });
});
