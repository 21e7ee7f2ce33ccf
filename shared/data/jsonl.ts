import { FileSource } from '../config/job-spec';
import { DataError } from '../errors';
import { readText } from './files';
import { Table, TableReader } from './table';

/** The shape of a nested numeric array ([3] for [1, 2, 3], [2, 2] for [[1, 2], [3, 4]]), or null when ragged or not numeric. */
function shapeOf(v: unknown): number[] | null {
  if (typeof v === 'number') return Number.isFinite(v) ? [] : null;
  if (!Array.isArray(v) || v.length === 0) return null;
  const inner = shapeOf(v[0]);
  if (inner === null) return null;
  for (let i = 1; i < v.length; i++) {
    const s = shapeOf(v[i]);
    if (s === null || s.join() !== inner.join()) return null;
  }
  return [v.length, ...inner];
}

/** Writes a nested numeric array's values into `out` from `at`; returns the next index. */
function flattenInto(v: unknown, out: Float32Array, at: number): number {
  if (typeof v === 'number') {
    out[at] = v;
    return at + 1;
  }
  for (const item of v as unknown[]) at = flattenInto(item, out, at);
  return at;
}

/**
 * Parses JSON Lines: one object per line, a label field, and named numeric
 * feature fields, one array field (`input`) per sample, and/or a string
 * field of raw text (`text`, into `texts`; with it, features are optional).
 * With `length`, arrays are cut or padded at the end (token sequences).
 * Labels are numbers, or strings (class names: `labelNames` in order of
 * first appearance, `y` their indices); a file must not mix the two.
 *
 * @throws DataError like `reviews.jsonl line 12 field 'tokens': expected an array of numbers`.
 * @example
 * parseJsonl('{"review":"Great pizza","label":"pos"}\n', { format: 'jsonl', path: 'r.jsonl', label: 'label', text: 'review' });
 */
export function parseJsonl(text: string, source: FileSource, name = source.path!): Table {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError(`${name}: no rows`);
  // Without a label (rows to predict), labels stay 0.
  const label = source.label;
  const hasArray = source.features === undefined && source.input !== undefined;
  // A text-only source (no features, no input) has no numeric columns.
  let sampleShape: number[] | null = source.features ? [source.features.length] : hasArray ? null : [0];
  let x = new Float32Array(0);
  const labels = new JsonLabels(lines.length);
  const texts: string[] | undefined = source.text === undefined ? undefined : new Array<string>(lines.length);
  for (let r = 0; r < lines.length; r++) {
    const where = `${name} line ${r + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(lines[r]);
    } catch (err) {
      // The parser's message quotes the line: a file that is not JSON lines is not quoted back.
      throw new DataError(`${where}: not valid JSON`, { cause: err });
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new DataError(`${where}: expected a JSON object, got ${JSON.stringify(row)?.slice(0, 40)}`);
    const obj = row as Record<string, unknown>;
    const number = (field: string): number => {
      const v = obj[field];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new DataError(`${where} field '${field}': expected a number, got ${shownValue(v)}`);
      return v;
    };
    if (label !== undefined) labels.add(r, obj[label], where, label);
    if (texts) texts[r] = textOf(obj, source.text!, where);
    if (source.features) {
      if (r === 0) x = new Float32Array(lines.length * source.features.length);
      source.features.forEach((f, c) => (x[r * source.features!.length + c] = number(f)));
      continue;
    }
    if (!hasArray) continue;
    const field = source.input!;
    let value = obj[field];
    let shape = shapeOf(value);
    if (shape === null || shape.length === 0) throw new DataError(`${where} field '${field}': expected a non-empty array of numbers (or of equal-length arrays), got ${shownValue(value)}`);
    if (source.length !== undefined && shape[0] !== source.length) {
      const items = value as unknown[];
      const pad = source.pad ?? 0;
      const padItem = shape.length === 1 ? pad : new Array(shape[1]).fill(pad);
      value = items.length > source.length ? items.slice(0, source.length) : [...items, ...new Array(source.length - items.length).fill(padItem)];
      shape = [source.length, ...shape.slice(1)];
    }
    if (sampleShape === null) {
      sampleShape = shape;
      x = new Float32Array(lines.length * shape.reduce((a, b) => a * b, 1));
    } else if (shape.join() !== sampleShape.join()) {
      throw new DataError(`${where} field '${field}': shape [${shape}] differs from the first row's [${sampleShape}]${source.length === undefined ? " (set 'length' to pad or cut sequences)" : ''}`);
    }
    const cols = x.length / lines.length;
    flattenInto(value, x, r * cols);
  }
  const cols = sampleShape!.reduce((a, b) => a * b, 1);
  return {
    source: name,
    featureNames: source.features ?? [],
    sampleShape: sampleShape!,
    labelName: label ?? '',
    firstRowLine: 1,
    rows: lines.length,
    cols,
    x,
    ...labels.finish(),
    ...(texts ? { texts } : {}),
  };
}

function shownValue(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 40);
}

/** @throws DataError when the row has no such field or it is not a string. */
function textOf(obj: Record<string, unknown>, field: string, where: string): string {
  const v = obj[field];
  if (v === undefined) throw new DataError(`${where}: no field '${field}'`);
  if (typeof v !== 'string') throw new DataError(`${where} field '${field}': expected a string, got ${shownValue(v)}`);
  return v;
}

/**
 * Labels as the first row gives them: numbers, or strings (class names,
 * numbered in order of first appearance). A row of the other kind is refused.
 */
class JsonLabels {
  private readonly y: Float32Array;
  private names: Map<string, number> | null = null;
  private kind: 'number' | 'string' | null = null;

  constructor(rows: number) {
    this.y = new Float32Array(rows);
  }

  /** @throws DataError naming the line of a label that is neither, empty, or of the other kind than the first row's. */
  add(r: number, v: unknown, where: string, field: string): void {
    const kind = typeof v === 'string' ? 'string' : typeof v === 'number' && Number.isFinite(v) ? 'number' : null;
    if (kind === null) {
      throw new DataError(`${where} field '${field}': expected ${this.kind === 'string' ? 'a string (a class name)' : this.kind === 'number' ? 'a number' : 'a number or a string (a class name)'}, got ${shownValue(v)}`);
    }
    this.kind ??= kind;
    if (kind !== this.kind) {
      throw new DataError(`${where} field '${field}': expected ${this.kind === 'string' ? 'a string (a class name)' : 'a number'} as on line 1, got ${shownValue(v)}; labels must be all numbers or all strings`);
    }
    if (kind === 'number') {
      this.y[r] = v as number;
      return;
    }
    const name = v as string;
    if (name.trim() === '') throw new DataError(`${where} field '${field}': empty label`);
    this.names ??= new Map();
    let k = this.names.get(name);
    if (k === undefined) this.names.set(name, (k = this.names.size));
    this.y[r] = k;
  }

  finish(): { y: Float32Array; labelNames?: string[] } {
    return this.names ? { y: this.y, labelNames: [...this.names.keys()] } : { y: this.y };
  }
}

export const jsonlReader: TableReader = {
  format: 'jsonl',
  async read(source: FileSource): Promise<Table> {
    return parseJsonl(await readText(source.path!), source);
  },
};
