import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FileSource, parseJobSpec } from '../../../shared/config/job-spec';
import { loadDataset, parseIdx, parseJsonl, readTable } from '../../../shared/data';
import { DataError } from '../../../shared/errors';
import { fashionMnist } from '../../harness/paths';

const dir = mkdtempSync(join(tmpdir(), 'tfleet-idx-'));
const file = (name: string, bytes: Buffer | string): string => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

/** An IDX file: magic, big-endian dims, then big-endian elements of `type`. */
function idx(type: number, shape: number[], values: number[]): Buffer {
  const bytes = { 0x08: 1, 0x0b: 2, 0x0d: 4 }[type]!;
  const buf = Buffer.alloc(4 + 4 * shape.length + values.length * bytes);
  buf[2] = type;
  buf[3] = shape.length;
  shape.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  const at = 4 + 4 * shape.length;
  values.forEach((v, i) => {
    if (type === 0x08) buf.writeUInt8(v, at + i);
    else if (type === 0x0b) buf.writeInt16BE(v, at + 2 * i);
    else buf.writeFloatBE(v, at + 4 * i);
  });
  return buf;
}

const idxSource = (images: string, labels: string, extra: Partial<FileSource> = {}): FileSource => ({ format: 'idx', images, labels, delimiter: ',', pad: 0, ...extra });
const jsonlSource = (extra: Partial<FileSource>): FileSource => ({ format: 'jsonl', path: 'rows.jsonl', label: 'y', delimiter: ',', pad: 0, ...extra });

describe('IDX reader', () => {
  it('reads Fashion-MNIST test images and labels, pixels scaled to [0, 1]', async () => {
    const t = await readTable(idxSource(fashionMnist('t10k').images, fashionMnist('t10k').labels));
    expect(t.rows).toBe(10000);
    expect(t.sampleShape).toEqual([28, 28]);
    expect(t.cols).toBe(784);
    expect(Math.max(...t.x.subarray(0, 784))).toBeLessThanOrEqual(1);
    expect(new Set(t.y).size).toBe(10);
    // Fashion-MNIST's test set has exactly 1000 images of each class.
    expect(t.y.filter((v) => v === 9).length).toBe(1000);
  });

  it('reads raw and gzip files, big-endian shorts and floats, with a given scale', async () => {
    const images = idx(0x0b, [2, 3], [1, -2, 300, 4, 5, 6]);
    const labels = idx(0x08, [2], [1, 0]);
    const t = await readTable(idxSource(file('s.idx', images), file('l.idx.gz', gzipSync(labels)), { scale: 0.5 }));
    expect(Array.from(t.x)).toEqual([0.5, -1, 150, 2, 2.5, 3]);
    expect(Array.from(t.y)).toEqual([1, 0]);
    expect(parseIdx(idx(0x0d, [1, 2], [0.25, -1.5]), 'f').values).toEqual(Float32Array.from([0.25, -1.5]));
  });

  const bad: Array<[string, () => Promise<unknown>, string]> = [
    ['a file without the IDX magic', async () => parseIdx(Buffer.from('PK\u0003\u0004'), 'x.zip'), 'x.zip: not an IDX file (it must start with two zero bytes)'],
    ['an unknown element type', async () => parseIdx(Buffer.from([0, 0, 0x42, 1, 0, 0, 0, 0]), 'u.idx'), 'u.idx: unknown IDX element type 0x42'],
    ['a truncated body', async () => parseIdx(idx(0x08, [2, 2], [1, 2, 3, 4]).subarray(0, 14), 't.idx'), 't.idx: IDX header says 2×2 unsigned bytes (16 bytes with the header), the file has 14 bytes'],
    ['labels that do not match the images', () => readTable(idxSource(file('i2.idx', idx(0x08, [3, 1], [1, 2, 3])), file('l2.idx', idx(0x08, [2], [0, 1])))), 'l2.idx: 2 labels for the 3 items of'],
    ['a corrupt gzip file', () => readTable(idxSource(file('c.gz', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3])), file('l3.idx', idx(0x08, [1], [0])))), 'c.gz: gzip data is corrupt or too large'],
  ];
  it.each(bad)('rejects %s naming the file', async (_what, read, message) => {
    const err = await read().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain(message);
  });
});

describe('JSONL reader', () => {
  it('reads named numeric fields as features', () => {
    const t = parseJsonl('{"a":1,"b":2,"y":0}\n{"a":3,"b":4,"y":1}\n\n', jsonlSource({ features: ['b', 'a'] }));
    expect(t.featureNames).toEqual(['b', 'a']);
    expect(Array.from(t.x)).toEqual([2, 1, 4, 3]);
    expect(t.sampleShape).toEqual([2]);
  });

  it('reads an array field as a sequence of vectors, and pads or cuts token sequences to a length', () => {
    const seq = parseJsonl('{"s":[[1,2],[3,4],[5,6]],"y":1}\n', jsonlSource({ input: 's' }));
    expect(seq.sampleShape).toEqual([3, 2]);
    expect(Array.from(seq.x)).toEqual([1, 2, 3, 4, 5, 6]);
    const tokens = parseJsonl('{"t":[5,6],"y":0}\n{"t":[1,2,3,4,5],"y":1}\n', jsonlSource({ input: 't', length: 4 }));
    expect(tokens.sampleShape).toEqual([4]);
    expect(Array.from(tokens.x)).toEqual([5, 6, 0, 0, 1, 2, 3, 4]);
  });

  const bad: Array<[string, string, Partial<FileSource>, string]> = [
    ['a line that is not JSON', '{"a":1,"y":0}\n{"a":2,"y":\n', { features: ['a'] }, 'rows.jsonl line 2: not valid JSON'],
    ['a missing feature', '{"a":1,"y":0}\n{"y":1}\n', { features: ['a'] }, "rows.jsonl line 2 field 'a': expected a number, got nothing"],
    ['labels mixing numbers and names', '{"a":1,"y":1}\n{"a":2,"y":"cat"}\n', { features: ['a'] }, 'rows.jsonl line 2 field \'y\''],
    ['a ragged sequence', '{"s":[[1,2],[3]],"y":0}\n', { input: 's' }, "rows.jsonl line 1 field 's': expected a non-empty array of numbers"],
    ['sequences of different lengths', '{"s":[1,2],"y":0}\n{"s":[1,2,3],"y":0}\n', { input: 's' }, "rows.jsonl line 2 field 's': shape [3] differs from the first row's [2] (set 'length' to pad or cut sequences)"],
    ['an array row', '[1,2]\n', { input: 's' }, 'rows.jsonl line 1: expected a JSON object, got [1,2]'],
  ];
  it.each(bad)('rejects %s naming the line and field', (_what, text, extra, message) => {
    expect(() => parseJsonl(text, jsonlSource(extra))).toThrow(DataError);
    expect(() => parseJsonl(text, jsonlSource(extra))).toThrow(message);
  });
});

describe('non-finite values in float IDX files', () => {
  const spec = (images: string, labels: string) => parseJobSpec({ model: { family: 'mlp' }, data: { train: { format: 'idx', images, labels } }, training: { epochs: 1, batchSize: 2 } });

  it('refuses an infinite feature, naming the file and the item', async () => {
    const images = file('inf-images.idx', idx(0x0d, [2, 2], [0.5, 1, Infinity, 0]));
    const labels = file('inf-labels.idx', idx(0x08, [2], [0, 1]));
    await expect(loadDataset(spec(images, labels), () => 'classifier')).rejects.toThrow(`${images} item 2: feature 1 is infinite`);
  });

  it('refuses a NaN label, naming the file and the item, rather than making it a class', async () => {
    const images = file('nan-images.idx', idx(0x0d, [2, 2], [0.5, 1, 0.25, 0]));
    const labels = file('nan-labels.idx', idx(0x0d, [2], [1, NaN]));
    await expect(loadDataset(spec(images, labels), () => 'classifier')).rejects.toThrow(`${images} item 2: the label is not a finite number`);
  });
});
