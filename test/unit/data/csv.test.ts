import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSource } from '../../../shared/config/job-spec';
import { featureMoments, holdout, normalizerFromMoments, parseCsv, readTable } from '../../../shared/data';
import { DataError } from '../../../shared/errors';
import { loadJobData, validateJob } from '../../../shared/job';

const src = (path: string, extra: Partial<FileSource> = {}): FileSource => ({ path, format: 'csv', label: 'y', delimiter: ',', pad: 0, ...extra });
const dir = mkdtempSync(join(tmpdir(), 'tfleet-csv-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('CSV reader', () => {
  it('reads features and label by header name', () => {
    const t = parseCsv('a,y,b\n1,0,2\n3,1,4\n', src('t.csv'));
    expect(t.featureNames).toEqual(['a', 'b']);
    expect([...t.x]).toEqual([1, 2, 3, 4]);
    expect([...t.y]).toEqual([0, 1]);
  });

  it('honours quotes and an explicit feature list', () => {
    const t = parseCsv('"a, first",y,b\n"1",0,2\n', src('t.csv', { features: ['b'] }));
    expect(t.featureNames).toEqual(['b']);
    expect([...t.x]).toEqual([2]);
  });

  // Each malformed file with the exact error after its path: line and column where there is one.
  const bad: Array<[string, string, FileSource | null, string]> = [
    ['a non-numeric cell', 'a,y\n1,0\nn/a,1\n', null, " line 3 column 'a': not a number: 'n/a'"],
    ['an empty cell', 'a,y\n1,\n', null, " line 2 column 'y': not a number: ''"],
    ['a short row', 'a,b,y\n1,2,0\n1,2\n', null, ' line 3: expected 3 cells as in the header, got 2'],
    ['an absent label column', 'a,b\n1,2\n', null, " line 1: label column 'y' not found (2 columns: a, b)"],
    ['an absent feature column', 'a,y\n1,2\n', src('', { features: ['c'] }), " line 1: feature column 'c' not found (2 columns: a, y)"],
    ['a header without rows', 'a,y\n', null, ': no data rows after the header'],
    ['an empty file', '', null, ': empty file, expected a header row'],
  ];
  it.each(bad)('reports %s', async (_what, text, source, message) => {
    const path = file(`bad-${Math.random().toString(36).slice(2)}.csv`, text);
    const read = readTable({ ...(source ?? src('')), path });
    await expect(read).rejects.toThrow(DataError);
    await expect(read).rejects.toThrow(`${path}${message}`);
  });

  it('reports a missing file with its path', async () => {
    await expect(readTable(src(join(dir, 'nope.csv')))).rejects.toThrow(`data file not found: ${join(dir, 'nope.csv')}`);
  });

  it('reports a test label that training never saw, with its line', async () => {
    const train = file('train.csv', 'a,y\n1,0\n2,1\n3,0\n');
    const test = file('test.csv', 'a,y\n1,0\n2,7\n');
    const job = validateJob({ model: { family: 'softmax' }, data: { train: { path: train, label: 'y' }, test: { path: test } }, training: { epochs: 1, batchSize: 1 } });
    await expect(loadJobData(job)).rejects.toThrow(`${test} line 3 label 'y': 7 does not occur in the training data (classes: 0, 1)`);
  });

  it('refuses a three-class label for the binary logistic family', async () => {
    const train = file('three.csv', 'a,y\n1,0\n2,1\n3,2\n');
    const job = validateJob({ model: { family: 'logistic' }, data: { train: { path: train, label: 'y' } }, training: { epochs: 1, batchSize: 1 } });
    await expect(loadJobData(job)).rejects.toThrow("label 'y' has 3 classes (0, 1, 2); family 'logistic' is binary: use 'softmax' for more");
  });

  it('lists a few of many label values, and suggests linear for a numeric target', async () => {
    const train = file('many.csv', `a,y\n${Array.from({ length: 30 }, (_, i) => `${i},${100 + i}`).join('\n')}\n`);
    const job = validateJob({ model: { family: 'logistic' }, data: { train: { path: train, label: 'y' } }, training: { epochs: 1, batchSize: 1 } });
    await expect(loadJobData(job)).rejects.toThrow("label 'y' has 30 classes (100, 101, 102, 103, 104, …); family 'logistic' is binary: use 'softmax' for classes, or 'linear' to predict the number");
  });
});

describe('holdout split', () => {
  it('is stratified, seeded and disjoint', () => {
    const labels = Array.from({ length: 100 }, (_, i) => (i < 70 ? 0 : 1));
    const a = holdout(100, 0.2, 7, labels);
    const b = holdout(100, 0.2, 7, labels);
    expect([...a.test]).toEqual([...b.test]);
    expect(a.test.length).toBe(20);
    expect([...a.test].filter((r) => labels[r] === 1).length).toBe(6);
    expect(new Set([...a.train, ...a.test]).size).toBe(100);
    expect([...holdout(100, 0.2, 8, labels).test]).not.toEqual([...a.test]);
  });
});

describe('feature moments', () => {
  it('are additive across shards and give mean and population std', () => {
    const t = parseCsv('a,y\n1,0\n2,0\n3,0\n6,0\n', src('m.csv'));
    const half = (b: number, e: number) => featureMoments({ ...t, rows: e - b, x: t.x.subarray(b, e), y: t.y.subarray(b, e) });
    const summed = half(0, 1).map((v, i) => v + half(1, 4)[i]);
    expect([...summed]).toEqual([...featureMoments(t)]);
    const norm = normalizerFromMoments(summed, 1);
    expect(norm.mean[0]).toBe(3);
    expect(norm.std[0]).toBeCloseTo(Math.sqrt(3.5), 6);
  });
});

describe('messages about a file that is not the table it was declared as', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\n';
  const failure = (text: string, delimiter?: string): string => {
    try {
      parseCsv(text, { format: 'csv', path: 'secret', label: 'y', ...(delimiter ? { delimiter } : {}) });
    } catch (err) {
      return (err as Error).message;
    }
    return 'parsed';
  };

  it('never quote its first line as column names', () => {
    const message = failure(passwd);
    expect(message).toBe("secret line 1: label column 'y' not found (1 column; the header's cells do not look like column names)");
    for (const word of ['root', 'daemon', 'bash']) expect(message).not.toContain(word);
  });

  it('never quote a key or token as a column name', () => {
    const key = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const message = failure(`${key}\nAKIAIOSFODNN7EXAMPLEX/abcdefghij+klmnopqrst\n`);
    expect(message).toBe("secret line 1: label column 'y' not found (1 column; the header's cells do not look like column names)");
    expect(failure(`id,${key}\n1,2\n`)).not.toContain(key);
  });

  it('say a file whose lines split into different numbers of cells is not a table, quoting none of them', () => {
    const message = failure('root:x:0\na:b\nc:d:e:f\n', ':');
    expect(message).toBe("secret line 1: label column 'y' not found (the file is not a table: its lines split into different numbers of cells)");
  });

  it('list at most the first few names of a real table', () => {
    expect(failure('a,b,c,d,e,f\n1,2,3,4,5,6\n')).toBe("secret line 1: label column 'y' not found (6 columns: a, b, c, d, …)");
    expect(failure('alcohol,od280/od315_of_diluted_wines,a+b\n1,2,3\n')).toBe("secret line 1: label column 'y' not found (3 columns: alcohol, od280/od315_of_diluted_wines, a+b)");
  });
});
