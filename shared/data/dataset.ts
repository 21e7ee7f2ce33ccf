import { JobSpec, isHoldout } from '../config/job-spec';
import { DataError } from '../errors';
import { readTable } from './read';
import { holdout } from './split';
import { Table, rowOrigin, selectRows } from './table';

/** Whether a family predicts a class or a number. */
export type TaskKind = 'classifier' | 'regressor';

/** Most classes a classifier accepts; more usually means a regression label. */
export const MAX_CLASSES = 1000;

/** The job's training and test rows, labels mapped to class ids for classifiers. */
export interface Dataset {
  train: Table;
  test: Table | null;
  /** Sorted distinct label values of the training rows (classifiers), else null. */
  classes: number[] | null;
}

/**
 * Loads the job's data the same way on the coordinator (to validate it at
 * submit) and on every worker (which then keeps only its shard). `taskOf`
 * says from the training labels whether they are classes.
 *
 * @throws DataError naming file, line and column.
 */
export async function loadDataset(spec: JobSpec, taskOf: (labels: Float32Array) => TaskKind): Promise<Dataset> {
  const raw = await readTable(spec.data.train);
  const task = taskOf(raw.y);
  let classes: number[] | null = null;
  if (task === 'classifier') {
    classes = [...new Set(raw.y)].sort((a, b) => a - b);
    if (classes.length < 2) throw new DataError(`${raw.source}: label '${raw.labelName}' has a single class (${classes[0]}); a classifier needs at least 2`);
    if (classes.length > MAX_CLASSES) {
      throw new DataError(`${raw.source}: label '${raw.labelName}' has ${classes.length} distinct values; a classifier takes at most ${MAX_CLASSES} (is it a regression target?)`);
    }
    toClassIds(raw, classes);
  }
  const test = spec.data.test;
  if (test === undefined) return { train: raw, test: null, classes };
  if (isHoldout(test)) {
    const split = holdout(raw.rows, test.split, spec.seed, classes ? raw.y : undefined);
    if (split.train.length === 0 || split.test.length === 0) {
      throw new DataError(`${raw.source}: a holdout of ${test.split} of ${raw.rows} rows leaves ${split.train.length} to train and ${split.test.length} to test`);
    }
    return { train: selectRows(raw, split.train), test: selectRows(raw, split.test), classes };
  }
  const testTable = await readTable(test);
  if (testTable.sampleShape.join() !== raw.sampleShape.join()) {
    throw new DataError(`${testTable.source}: samples of shape [${testTable.sampleShape}] differ from the training file's [${raw.sampleShape}]`);
  }
  if (testTable.featureNames.join('\u0000') !== raw.featureNames.join('\u0000')) {
    throw new DataError(`${testTable.source}: feature columns (${testTable.featureNames.join(', ')}) differ from the training file's (${raw.featureNames.join(', ')})`);
  }
  if (classes) toClassIds(testTable, classes);
  return { train: raw, test: testTable, classes };
}

/** Replaces label values by their index in `classes`, in place. */
function toClassIds(t: Table, classes: number[]): void {
  const id = new Map(classes.map((c, i) => [c, i]));
  for (let r = 0; r < t.rows; r++) {
    const k = id.get(t.y[r]);
    if (k === undefined) {
      throw new DataError(`${t.source} ${rowOrigin(t, r)} label '${t.labelName}': ${t.y[r]} does not occur in the training data (classes: ${classes.join(', ')})`);
    }
    t.y[r] = k;
  }
}
