import { JobSpec, MAX_SPEC_BYTES, parseJobSpec } from './config/job-spec';
import { Dataset, TaskKind, loadDataset } from './data/dataset';
import { SpecError } from './errors';
import { getFamily } from './families/registry';
import { DataInfo, ModelFamily } from './families/types';

/** A spec that passed the schema and its family's own checks. */
export interface ValidatedJob {
  spec: JobSpec;
  family: ModelFamily<unknown>;
  modelSpec: unknown;
  task: TaskKind;
}

/**
 * Parses and validates a job spec given as JSON text.
 *
 * @throws SpecError naming the field path and the allowed values.
 */
export function validateJobJson(text: string): ValidatedJob {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new SpecError('(spec)', `must be at most ${MAX_SPEC_BYTES} bytes, got ${Buffer.byteLength(text)}`);
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
  const modelSpec = family.parseSpec(spec.model);
  if (spec.data.normalize && family.readsRawValues?.(modelSpec)) {
    throw new SpecError('data.normalize', `must be false for this '${family.name}' model: it reads feature values as they are (token ids)`);
  }
  return { spec, family, modelSpec, task: family.taskOf(modelSpec) };
}

export function dataInfo(data: Dataset): DataInfo {
  return {
    numFeatures: data.train.cols,
    featureNames: data.train.featureNames,
    sampleShape: data.train.sampleShape,
    valueRange: valueRange(data.train.x),
    labelName: data.train.labelName,
    classes: data.classes,
  };
}

/**
 * Loads the job's data and checks that its family can train on it.
 *
 * @throws DataError naming file, line and column.
 */
export async function loadJobData(job: ValidatedJob): Promise<Dataset> {
  const data = await loadDataset(job.spec, job.task);
  job.family.checkData(job.modelSpec, dataInfo(data));
  return data;
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
