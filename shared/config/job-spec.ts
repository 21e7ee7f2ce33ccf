import Ajv, { ErrorObject } from 'ajv';
import schema from './job-spec.schema.json';
import { SpecError } from '../errors';

/** The JSON schema every job spec must satisfy; documented field by field. */
export const JOB_SPEC_SCHEMA = schema;

/** Most bytes a spec may have on the wire. */
/** Most bytes a spec may have on the wire; a keras topology travels inside it. */
export const MAX_SPEC_BYTES = 256 * 1024;

export type DataFormat = 'csv' | 'jsonl' | 'idx' | 'ratings';

/** A ratings source's declared rating scale: every rating must lie in [min, max], min < max. */
export type RatingScale = readonly [min: number, max: number];

/** The delimiters a ratings file may declare (and those its reader detects). */
export const RATING_DELIMITERS: readonly string[] = ['\t', '::', ','];

/** A data file (or, for idx, a pair of files), with the defaults filled in. */
export interface FileSource {
  format: DataFormat;
  /** csv, jsonl, ratings. */
  path?: string;
  /** csv column or jsonl field; 'rating' for ratings (implied, never given); absent for idx. Numbers, or strings (class names). */
  label?: string;
  features?: string[];
  /** csv column or jsonl field holding each row's raw text (read as a string, into `Table.texts`). */
  text?: string;
  /** csv: whether the first line names the columns; default true. */
  header?: boolean;
  /** csv with `header: false`: the columns' names, in file order. */
  columns?: string[];
  /** jsonl: one array-valued field. */
  input?: string;
  length?: number;
  /** jsonl; default 0. */
  pad?: number;
  /** csv: one character, default ','. ratings: one of {@link RATING_DELIMITERS}; default: detected from the file. */
  delimiter?: string;
  /** idx. */
  images?: string;
  labels?: string;
  /** idx: a multiplier of every sample value (a number > 0). ratings: the declared scale [min, max]. */
  scale?: number | RatingScale;
  /** Only the first N samples. */
  limit?: number;
}

/** Fields each format takes; the first group is required. */
const FORMAT_FIELDS: Record<DataFormat, { required: string[]; optional: string[] }> = {
  csv: { required: ['path', 'label'], optional: ['features', 'delimiter', 'header', 'columns', 'text', 'limit'] },
  jsonl: { required: ['path', 'label'], optional: ['features', 'input', 'text', 'length', 'pad', 'limit'] },
  idx: { required: ['images', 'labels'], optional: ['scale', 'limit'] },
  // The label is implied ('rating'): fileDefaults fills it in, so it is not a field to give.
  ratings: { required: ['path'], optional: ['delimiter', 'scale', 'limit'] },
};

/** Where a file source's data lives, for messages: the path, or the idx pair. */
export function sourceName(f: FileSource): string {
  return f.format === 'idx' ? `${f.images} + ${f.labels}` : f.path!;
}

/** Which words a tokenizer drops: none, a built-in English list, or the words given. */
export type StopWords = 'none' | 'english' | readonly string[];

/** How term weights are computed from a row's token counts. */
export type TextWeighting = 'tfidf' | 'count' | 'binary';

/**
 * The tokenizer's settings (`data.text`), every default filled in. What
 * scikit-learn's CountVectorizer / TfidfVectorizer take, by the same names
 * where they have one.
 */
export interface TextSettings {
  /** Lower-case the text before splitting it into words. @default true */
  lowercase: boolean;
  /** Word n-grams from `[min, max]` words, 1 ≤ min ≤ max ≤ 3. @default [1, 2] */
  ngrams: [min: number, max: number];
  /** Tokens that occur fewer times than this in the training texts (all ranks together) are left out of the vocabulary. @default 1 */
  minCount: number;
  /** Most tokens kept, the most frequent first. @default 20000 */
  maxVocabulary: number;
  /** @default 'none' */
  stopWords: StopWords;
  /** Null: a vocabulary; a number N (2..2^24): the hashing trick into N buckets instead. @default null */
  hashing: number | null;
  /** @default 'tfidf' */
  weighting: TextWeighting;
  /** Token-sequence length for sequence models (cut or padded at the end). @default 64 */
  length: number;
}

/** The settings a `data.text` section starts from. */
export const DEFAULT_TEXT_SETTINGS: Readonly<TextSettings> = Object.freeze<TextSettings>({
  lowercase: true,
  ngrams: [1, 2],
  minCount: 1,
  maxVocabulary: 20000,
  stopWords: 'none',
  hashing: null,
  weighting: 'tfidf',
  length: 64,
});

/** Most hashing buckets `data.text.hashing` may ask for. */
export const MAX_HASHING_BUCKETS = 2 ** 24;

export interface HoldoutSplit {
  split: number;
}

export interface OptimizerSpec {
  name: 'sgd' | 'momentum' | 'adam';
  learningRate: number;
  momentum: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** A validated job spec with every default filled in. */
export interface JobSpec {
  name: string;
  model: { family: string } & Record<string, unknown>;
  data: {
    train: FileSource;
    test?: FileSource | HoldoutSplit;
    normalize: boolean;
    shards: 'auto' | 'local' | 'coordinator';
    /** The tokenizer's settings; present (defaults filled in) exactly when the training source has a text field. */
    text?: TextSettings;
  };
  /** The minibatch gradient families' settings; absent for the tree families. */
  training?: { epochs: number; batchSize: number; shuffle: boolean; optimizer: OptimizerSpec; /** Test-set evaluation every this many epochs while training; absent or 0: at the end only. */ evaluateEvery?: number };
  workers: number;
  /** The fewest members the job goes on with after losing some. */
  minWorkers: number;
  checkpoint: CheckpointPolicy;
  /** Fail the job if it has not started after this long in the queue (s). */
  queueTimeoutSeconds?: number;
  seed: number;
  output?: string;
  /** Replace an `output` that holds an earlier tfleet model; absent means false. */
  overwrite?: boolean;
}

/** When a job's checkpoint is taken: at the end of a round, every `everyRounds` rounds or `everySeconds` after the last. */
export interface CheckpointPolicy {
  everyRounds: number;
  everySeconds: number;
}

export function isHoldout(test: FileSource | HoldoutSplit | undefined): test is HoldoutSplit {
  return test !== undefined && 'split' in test;
}

const ajv = new Ajv({ allErrors: false, verbose: true, strict: false });
const validateSchema = ajv.compile(schema);

/**
 * Validates a raw spec against the schema and fills in defaults. Relative
 * paths are left as they are: the submitting client resolves them.
 *
 * @throws SpecError naming the field path and the allowed values.
 * @example
 * parseJobSpec({ model: { family: 'softmax' }, data: {...}, training: { epochs: 5, batchSize: 32 } });
 */
export function parseJobSpec(raw: unknown): JobSpec {
  if (!validateSchema(raw)) throw specErrorFrom(validateSchema.errors![0]);
  const spec = structuredClone(raw) as Record<string, any>;
  const data = spec.data;
  // The test file inherits from the training file as given, before its defaults
  // (a csv test file gets its own default delimiter, a ratings one its own label).
  const givenTrain = data.train as Record<string, unknown>;
  data.train = fileDefaults(givenTrain, 'data.train');
  const test = data.test as Record<string, unknown> | undefined;
  if (test !== undefined) {
    const hasSplit = test.split !== undefined;
    const hasFile = test.path !== undefined || test.images !== undefined;
    if (hasSplit === hasFile) {
      throw new SpecError('data.test', `needs either 'split' (a fraction in (0, 1)) or a file ('path', or 'images' and 'labels'), got ${hasSplit ? 'both' : 'neither'}`);
    }
    if (hasSplit && Object.keys(test).length > 1) {
      throw new SpecError('data.test', `with 'split' takes no other field, got ${Object.keys(test).join(', ')}`);
    }
    if (hasFile) {
      // The test file is read like the training file unless it says otherwise.
      const inherited = Object.fromEntries(['format', 'label', 'features', 'input', 'text', 'length', 'pad', 'delimiter', 'header', 'columns', 'scale']
        .filter((k) => givenTrain[k] !== undefined).map((k) => [k, givenTrain[k]]));
      const merged: Record<string, unknown> = { ...inherited, ...test };
      // A test file that has its own header row names its own columns.
      if (merged.header !== false && test.columns === undefined) delete merged.columns;
      data.test = fileDefaults(merged, 'data.test');
    }
  }
  data.text = textSettings(data.text, data.train);
  // idx samples are scaled by 'scale' instead, token ids and rating ids must stay ids; text is weighted by its tokenizer.
  data.normalize ??= data.train.format !== 'idx' && data.train.format !== 'ratings' && data.train.input === undefined && data.train.text === undefined;
  if (data.text === undefined) delete data.text;
  data.shards ??= 'auto';
  if (spec.training !== undefined) {
    const opt = spec.training.optimizer ?? { name: 'adam' };
    spec.training.optimizer = {
      name: opt.name,
      learningRate: opt.learningRate ?? 0.01,
      momentum: opt.momentum ?? 0.9,
      beta1: opt.beta1 ?? 0.9,
      beta2: opt.beta2 ?? 0.999,
      epsilon: opt.epsilon ?? 1e-7,
    };
    spec.training.shuffle ??= true;
  }
  spec.workers ??= 1;
  spec.minWorkers ??= 1;
  if (spec.minWorkers > spec.workers) throw new SpecError('minWorkers', `is ${spec.minWorkers}, more than 'workers' (${spec.workers})`);
  spec.checkpoint = { everyRounds: spec.checkpoint?.everyRounds ?? 1, everySeconds: spec.checkpoint?.everySeconds ?? 0 };
  spec.seed ??= 0;
  spec.name ??= spec.model.family;
  return spec as JobSpec;
}

/** @throws SpecError naming a field the format needs or does not take, e.g. 'data.train.images'. */
function fileDefaults(f: Record<string, any>, at: string): FileSource {
  const format: DataFormat = f.format ?? 'csv';
  const { required, optional } = FORMAT_FIELDS[format];
  for (const key of required) if (f[key] === undefined) throw new SpecError(`${at}.${key}`, `is required for format '${format}'`);
  for (const key of Object.keys(f)) {
    // A validated ratings source carries its implied label: validating it again must pass.
    if (format === 'ratings' && key === 'label' && f.label === 'rating') continue;
    if (key !== 'format' && !required.includes(key) && !optional.includes(key)) {
      throw new SpecError(`${at}.${key}`, `is not a field of format '${format}' (allowed: format, ${[...required, ...optional].join(', ')})`);
    }
  }
  if (f.features !== undefined && f.input !== undefined) throw new SpecError(`${at}.input`, "cannot be given with 'features': a row's features are either named fields or one array");
  if (format === 'jsonl' && f.features === undefined && f.input === undefined && f.text === undefined) {
    throw new SpecError(`${at}.features`, "or 'input' or 'text' is required for format 'jsonl'");
  }
  checkColumns(f, at);
  checkDelimiter(f.delimiter, format, at);
  checkScale(f.scale, format, at);
  const defaults = format === 'csv' ? { delimiter: ',' } : format === 'jsonl' ? { pad: 0 } : format === 'ratings' ? { label: 'rating' } : {};
  return { ...defaults, ...f, format } as FileSource;
}

/**
 * `header: false` needs `columns`, a header row refuses them; the label,
 * text and feature columns must be among the columns named.
 *
 * @throws SpecError like `'data.train.columns' is required when 'header' is false`.
 */
function checkColumns(f: Record<string, any>, at: string): void {
  if (f.header === false && f.columns === undefined) {
    throw new SpecError(`${at}.columns`, "is required when 'header' is false: the file has no header row to name its columns");
  }
  if (f.columns === undefined) return;
  if (f.header !== false) {
    throw new SpecError(`${at}.columns`, "is used only with 'header': false (the header row names the columns)");
  }
  const columns = f.columns as string[];
  const twice = columns.find((c, i) => columns.indexOf(c) !== i);
  if (twice !== undefined) throw new SpecError(`${at}.columns`, `names column ${shown(twice)} twice`);
  const named = (key: string, column: string): void => {
    if (!columns.includes(column)) throw new SpecError(`${at}.${key}`, `must be one of the columns (${columns.join(', ')}), got ${shown(column)}`);
  };
  if (f.label !== undefined) named('label', f.label);
  if (f.text !== undefined) named('text', f.text);
  for (const c of f.features ?? []) named('features', c);
  if (f.text !== undefined && f.text === f.label) throw new SpecError(`${at}.text`, `is the label column ${shown(f.label)}; the text and the label must be different columns`);
}

/**
 * The `data.text` section with its defaults, or undefined when the source
 * has no text field.
 *
 * @throws SpecError on `'data.text'` when the source has no text field, or on a field out of range.
 * @example
 * textSettings({ ngrams: [1, 1] }, { format: 'csv', path: 'r.csv', label: 'y', text: 'review' }); // { lowercase: true, ngrams: [1, 1], ... }
 */
function textSettings(given: Partial<TextSettings> | undefined, train: FileSource): TextSettings | undefined {
  if (train.text === undefined) {
    if (given === undefined) return undefined;
    throw new SpecError('data.text', "is given, but data.train has no text field: set 'data.train.text' to the column or field that holds the text");
  }
  const s: TextSettings = { ...DEFAULT_TEXT_SETTINGS, ...given } as TextSettings;
  if (s.ngrams[0] > s.ngrams[1]) throw new SpecError('data.text.ngrams', `must be [min, max] with 1 ≤ min ≤ max ≤ 3, got ${shown(s.ngrams)}`);
  if (typeof s.stopWords === 'string' && s.stopWords !== 'none' && s.stopWords !== 'english') {
    throw new SpecError('data.text.stopWords', `must be 'none', 'english' or a list of words, got ${shown(s.stopWords)}`);
  }
  if (s.hashing !== null && !(s.hashing >= 2 && s.hashing <= MAX_HASHING_BUCKETS)) {
    throw new SpecError('data.text.hashing', `must be null or an integer ≥ 2 and ≤ ${MAX_HASHING_BUCKETS}, got ${shown(s.hashing)}`);
  }
  return { ...s, ngrams: [s.ngrams[0], s.ngrams[1]] };
}

/** @throws SpecError when the delimiter does not suit the format (the schema allows up to 2 characters, for '::'). */
function checkDelimiter(delimiter: string | undefined, format: DataFormat, at: string): void {
  if (delimiter === undefined) return;
  if (format === 'csv' && delimiter.length !== 1) {
    throw new SpecError(`${at}.delimiter`, `must be a string of exactly 1 character for format 'csv', got ${shown(delimiter)}`);
  }
  if (format === 'ratings' && !RATING_DELIMITERS.includes(delimiter)) {
    throw new SpecError(`${at}.delimiter`, `must be one of ${RATING_DELIMITERS.map((d) => shown(d)).join(', ')} for format 'ratings', got ${shown(delimiter)}`);
  }
}

/** @throws SpecError when the scale is not the kind its format takes: a number > 0 for idx, [min, max] for ratings. */
function checkScale(scale: unknown, format: DataFormat, at: string): void {
  if (scale === undefined) return;
  if (format === 'idx' && !(typeof scale === 'number' && scale > 0)) {
    throw new SpecError(`${at}.scale`, `must be a number > 0 for format 'idx', got ${shown(scale)}`);
  }
  if (format === 'ratings') {
    const ordered = Array.isArray(scale) && scale.length === 2 && scale.every((v) => typeof v === 'number') && scale[0] < scale[1];
    if (!ordered) {
      throw new SpecError(`${at}.scale`, `must be [min, max] with min < max for format 'ratings', got ${shown(scale)}`);
    }
  }
}

function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '(spec)' : parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** "an integer ≥ 1", "one of 'sgd', 'adam'": what a schema allows, in words. */
function describe(s: Record<string, any>): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v: unknown) => JSON.stringify(v).replace(/"/g, "'")).join(', ')}`;
  const article: Record<string, string> = {
    integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'an array',
  };
  // A field of two kinds ('scale': a number or a pair) checks its bounds per format, in fileDefaults.
  if (Array.isArray(s.type)) return s.type.map((t: string) => article[t] ?? t).join(' or ');
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) bounds.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) bounds.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined && s.minLength > 0) bounds.push(s.maxLength === s.minLength ? `of exactly ${s.minLength} character(s)` : `of at least ${s.minLength} character(s)`);
  else if (s.maxLength !== undefined) bounds.push(`of at most ${s.maxLength} characters`);
  if (s.minItems !== undefined) bounds.push(`with at least ${s.minItems} item(s)`);
  if (s.maxItems !== undefined) bounds.push(`with at most ${s.maxItems} items`);
  if (s.pattern !== undefined) bounds.push(`matching ${s.pattern}`);
  return [article[s.type as string] ?? 'a valid value', bounds.join(' and ')].filter(Boolean).join(' ');
}

function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

function specErrorFrom(e: ErrorObject): SpecError {
  switch (e.keyword) {
    case 'required':
      return new SpecError(fieldPath(e.instancePath, (e.params as { missingProperty: string }).missingProperty), 'is required');
    case 'additionalProperty':
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      return new SpecError(fieldPath(e.instancePath, extra), `is not a known field (allowed here: ${allowed.join(', ')})`);
    }
    default:
      return new SpecError(fieldPath(e.instancePath), `must be ${describe(e.parentSchema as Record<string, any>)}, got ${shown(e.data)}`);
  }
}
