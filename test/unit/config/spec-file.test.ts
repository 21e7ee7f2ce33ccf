import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../../bin/spec-file';
import { ROOT } from '../../harness/paths';

describe('job spec files', () => {
  it('read YAML into the same spec as JSON, paths resolved beside the file', () => {
    const json = loadSpecFile(join(ROOT, 'examples', 'wine-softmax.json'), [], ROOT);
    const yaml = loadSpecFile(join(ROOT, 'examples', 'wine-softmax.yaml'), [], ROOT);
    expect({ ...yaml, name: json.name, output: json.output }).toEqual(json);
    expect((yaml.data as { train: { path: string } }).train.path).toBe(join(ROOT, 'examples', 'data', 'wine.csv'));
  });

  it('say which file is not valid YAML, and refuse a YAML that is not a mapping', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfleet-yaml-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'model: { family: softmax\n');
    expect(() => loadSpecFile(bad, [], dir)).toThrow(new RegExp(`^job spec ${bad} is not valid YAML: `));
    const list = join(dir, 'list.yml');
    writeFileSync(list, '- a\n- b\n');
    expect(() => loadSpecFile(list, [], dir)).toThrow(`job spec ${list} must hold a YAML mapping`);
  });

  it('resolve paths set with --set against the working directory, whole objects included', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tfleet-cwd-'));
    const file = join(ROOT, 'examples', 'wine-softmax.json');
    const pathOf = (spec: Record<string, unknown>, split: 'train' | 'test') => (spec.data as Record<string, { path?: string }>)[split].path;
    const field = loadSpecFile(file, ['data.train.path=mine.csv'], cwd);
    expect(pathOf(field, 'train')).toBe(join(cwd, 'mine.csv'));
    const whole = loadSpecFile(file, ['data.train={"path":"mine.csv","label":"target"}', 'data={"train":{"path":"a.csv"},"test":{"path":"b.csv"}}'], cwd);
    expect(pathOf(whole, 'train')).toBe(join(cwd, 'a.csv'));
    expect(pathOf(whole, 'test')).toBe(join(cwd, 'b.csv'));
    // Paths the file itself names still resolve beside it.
    const specDir = mkdtempSync(join(tmpdir(), 'tfleet-spec-'));
    const own = join(specDir, 'job.json');
    writeFileSync(own, JSON.stringify({ model: { family: 'softmax' }, data: { train: { path: 'x.csv' }, test: { path: 'y.csv' } } }));
    const other = loadSpecFile(own, ['data.train={"path":"mine.csv","label":"target"}'], cwd);
    expect(pathOf(other, 'train')).toBe(join(cwd, 'mine.csv'));
    expect(pathOf(other, 'test')).toBe(join(specDir, 'y.csv'));
  });
});
