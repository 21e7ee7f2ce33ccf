import { JobSpec, MAX_SPEC_BYTES, parseJobSpec } from './config/job-spec';
import { Dataset, RatingsColumn, TaskKind, loadDataset } from './data/dataset';
import { DataError, SpecError } from './errors';
import { getFamily } from './families/registry';
import { DataInfo, ModelFamily } from './families/types';

/** A spec that passed the schema and its family's own checks. */
export interface ValidatedJob {
  spec: JobSpec;
  family: ModelFamily<unknown>;
  modelSpec: unknown;
  /** 'auto' when the family learns it from the label (trees without an objective). */
  task: TaskKind | 'auto';
}

/**
 * Parses and validates a job spec given as JSON text.
 *
 * @throws SpecError naming the field path and the allowed values.
 */
/** Deepest nesting a spec may have: a keras topology needs about 10; the validator recurses per level. */
export const MAX_SPEC_DEPTH = 64;

/** How deeply a JSON text nests objects and arrays, counted without parsing it (brackets in strings do not count). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export function validateJobJson(text: string): ValidatedJob {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new SpecError('(spec)', `must be at most ${MAX_SPEC_BYTES} bytes, got ${Buffer.byteLength(text)}`);
  const depth = jsonDepth(text);
  if (depth > MAX_SPEC_DEPTH) throw new SpecError('(spec)', `nests ${depth} levels of objects and arrays; at most ${MAX_SPEC_DEPTH} are allowed`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SpecError('(spec)', `is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateJob(raw);
}

export function validateJob(raw: unknown): ValidatedJob {
  const spec = parseJobSpec(raw);
  const family = getFamily(spec.model.family);
  if (family.training === 'required' && spec.training === undefined) {
    throw new SpecError('training', `is required for family '${family.name}' (epochs, batchSize, optimizer)`);
  }
  if (family.training === 'none' && spec.training !== undefined) {
    throw new SpecError('training', `is not a section of family '${family.name}': its settings are fields of 'model'`);
  }
  const modelSpec = family.parseSpec(spec.model);
  if (family.readsRawValues?.(modelSpec)) {
    const given = (raw as { data?: { normalize?: unknown } }).data?.normalize;
    if (given === true) {
      throw new SpecError('data.normalize', `must be false for this '${family.name}' model: it reads feature values as they are`);
    }
    spec.data.normalize = false;
  }
  return { spec, family, modelSpec, task: family.taskOf(modelSpec) };
}

/** Labels with at most this many distinct integer values are classes when a family infers its task. */
export const MAX_INFERRED_CLASSES = 32;

export function dataInfo(data: Dataset): DataInfo {
  return {
    numFeatures: data.train.cols,
    featureNames: data.train.featureNames,
    sampleShape: data.train.sampleShape,
    valueRange: valueRange(data.train.x),
    labelName: data.train.labelName,
    classes: data.classes,
    missingValues: countMissing(data.train.x),
    ...(data.train.ids && data.ratingScale ? { ratings: { users: data.train.ids.users, items: data.train.ids.items, scale: data.ratingScale } } : {}),
    ...(data.train.texts ? { text: { field: data.textField ?? 'text' } } : {}),
    ...(data.classNames ? { classNames: data.classNames } : {}),
    trainRows: data.train.rows,
  };
}

/** How the job's family wants ratings grouped on its ranks. */
export function ratingsGrouping(job: ValidatedJob): RatingsColumn {
  return job.family.groupRatingsBy?.(job.modelSpec) ?? 'user';
}

/** The task a job's data gives it: the family's, or classes when an 'auto' family's label looks like classes. */
export function taskOfData(job: ValidatedJob, labels: Float32Array): TaskKind {
  if (job.task !== 'auto') return job.task;
  const distinct = new Set<number>();
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v)) return 'regressor';
    distinct.add(v);
    if (distinct.size > MAX_INFERRED_CLASSES) return 'regressor';
  }
  return 'classifier';
}

/**
 * Loads the job's data and checks that its family can train on it.
 *
 * @throws DataError naming file, line and column.
 */
export async function loadJobData(job: ValidatedJob): Promise<Dataset> {
  const data = await loadDataset(job.spec, (labels) => taskOfData(job, labels), ratingsGrouping(job));
  const info = dataInfo(data);
  if (info.missingValues > 0 && !job.family.acceptsMissing) {
    throw new DataError(`${data.train.source}: ${info.missingValues} missing feature value(s)${data.train.firstMissing ? `, the first at ${data.train.firstMissing}` : ''}; family '${job.family.name}' cannot train on missing values (the tree families 'gbdt' and 'forest' can)`);
  }
  if (info.text && !job.family.readsText) {
    throw new DataError(`data.train.text: family '${job.family.name}' does not read text (the text families: naive-bayes, svm, logistic, softmax, transformer)`);
  }
  job.family.checkData(job.modelSpec, info);
  return data;
}

function countMissing(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== x[i]) n++;
  return n;
}

function valueRange(x: Float32Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}
