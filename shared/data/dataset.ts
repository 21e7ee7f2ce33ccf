import { JobSpec, isHoldout } from '../config/job-spec';
import { DataError, fewOf } from '../errors';
import { isRatings, reindexRatings } from './ratings';
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
  /** Ratings data: the declared scale, else the training ratings' range. */
  ratingScale?: [number, number];
  /** String labels: class i is classNames[i] (sorted), and `classes` are the indices. */
  classNames?: string[];
  /** Text data: the source's text field. */
  textField?: string;
}

/** A ratings table's columns: which one a family keeps together on one rank. */
export type RatingsColumn = 'user' | 'item';

/**
 * Loads the job's data the same way on the coordinator (to validate it at
 * submit) and on every worker (which then keeps only its shard). `taskOf`
 * says from the training labels whether they are classes.
 *
 * @throws DataError naming file, line and column.
 */
export async function loadDataset(spec: JobSpec, taskOf: (labels: Float32Array) => TaskKind, groupBy: RatingsColumn = 'user'): Promise<Dataset> {
  const data = await loadTables(spec, taskOf);
  if (spec.data.train.text !== undefined) data.textField = spec.data.train.text;
  return isRatings(data.train) ? arrangeRatings(spec, data, groupBy) : data;
}

/** String labels as indices into `names`, in place. @throws DataError naming the row of a name not in the list. */
function toNameIds(t: Table, names: readonly string[]): void {
  const index = new Map(names.map((n, i) => [n, i]));
  const own = t.labelNames!;
  for (let r = 0; r < t.rows; r++) {
    const k = index.get(own[t.y[r]]);
    if (k === undefined) throw new DataError(`${t.source} ${rowOrigin(t, r)} label '${t.labelName}': '${own[t.y[r]].slice(0, 40)}' does not occur in the training data (classes: ${fewOf(names)})`);
    t.y[r] = k;
  }
}

/**
 * Refuses infinite features and labels that are not finite numbers (NaN
 * features are missing values, which the families that cannot train on
 * them refuse at submit). A float IDX file could hold either.
 *
 * @throws DataError naming the file and the row (never the values around it).
 */
function checkFinite(t: Table): Table {
  for (let r = 0; r < t.rows; r++) {
    if (!Number.isFinite(t.y[r]) && !t.labelNames) throw new DataError(`${t.source} ${rowOrigin(t, r)}: the label is not a finite number`);
  }
  for (let i = 0; i < t.x.length; i++) {
    const v = t.x[i];
    if (v === Infinity || v === -Infinity) throw new DataError(`${t.source} ${rowOrigin(t, Math.floor(i / t.cols))}: feature ${(i % t.cols) + 1} is infinite`);
  }
  return t;
}

async function loadTables(spec: JobSpec, taskOf: (labels: Float32Array) => TaskKind): Promise<Dataset> {
  const raw = checkFinite(await readTable(spec.data.train));
  // String labels are classes, ordered by name so that every rank numbers them alike.
  const classNames = raw.labelNames ? [...raw.labelNames].sort() : undefined;
  if (classNames) toNameIds(raw, classNames);
  const task = classNames ? 'classifier' : taskOf(raw.y);
  let classes: number[] | null = null;
  if (task === 'classifier') {
    classes = [...new Set(raw.y)].sort((a, b) => a - b);
    if (classes.length < 2) throw new DataError(`${raw.source}: label '${raw.labelName}' has a single class (${classes[0]}); a classifier needs at least 2`);
    if (classes.length > MAX_CLASSES) {
      throw new DataError(`${raw.source}: label '${raw.labelName}' has ${classes.length} distinct values; a classifier takes at most ${MAX_CLASSES} (is it a regression target?)`);
    }
    toClassIds(raw, classes);
  }
  const named = (d: Dataset): Dataset => (classNames ? { ...d, classNames } : d);
  const test = spec.data.test;
  if (test === undefined) return named({ train: raw, test: null, classes });
  if (isHoldout(test)) {
    const split = holdout(raw.rows, test.split, spec.seed, classes ? raw.y : undefined);
    if (split.train.length === 0 || split.test.length === 0) {
      throw new DataError(`${raw.source}: a holdout of ${test.split} of ${raw.rows} rows leaves ${split.train.length} to train and ${split.test.length} to test`);
    }
    return named({ train: selectRows(raw, split.train), test: selectRows(raw, split.test), classes });
  }
  const testTable = checkFinite(await readTable(test));
  if (isRatings(raw) !== isRatings(testTable)) throw new DataError(`${testTable.source}: the test file must be of format '${spec.data.train.format}' as the training file is`);
  if (testTable.sampleShape.join() !== raw.sampleShape.join()) {
    throw new DataError(`${testTable.source}: samples of shape [${testTable.sampleShape}] differ from the training file's [${raw.sampleShape}]`);
  }
  if (testTable.featureNames.join('\u0000') !== raw.featureNames.join('\u0000')) {
    throw new DataError(`${testTable.source}: feature columns (${testTable.featureNames.join(', ')}) differ from the training file's (${raw.featureNames.join(', ')})`);
  }
  if (classNames) {
    if (!testTable.labelNames) throw new DataError(`${testTable.source}: numeric labels, where the training file's are names (${classNames.join(', ')})`);
    toNameIds(testTable, classNames);
  }
  if (classes) toClassIds(testTable, classes);
  return named({ train: raw, test: testTable, classes });
}

/** Replaces label values by their index in `classes`, in place. */
function toClassIds(t: Table, classes: number[]): void {
  const id = new Map(classes.map((c, i) => [c, i]));
  for (let r = 0; r < t.rows; r++) {
    const k = id.get(t.y[r]);
    if (k === undefined) {
      throw new DataError(`${t.source} ${rowOrigin(t, r)} label '${t.labelName}': ${t.y[r]} does not occur in the training data (classes: ${fewOf(classes)})`);
    }
    t.y[r] = k;
  }
}

/**
 * Ratings in the order the fleet shards them: users and items re-indexed
 * by the training rows (a test user or item training never saw gets an
 * index past the known ones), training rows grouped by `groupBy` (so a
 * user's ratings, and its factors, live on one rank) and test rows by user
 * (so one rank ranks each user's items).
 */
function arrangeRatings(spec: JobSpec, data: Dataset, groupBy: RatingsColumn): Dataset {
  const { train, test } = reindexRatings(data.train, data.test);
  const declared = spec.data.train.scale;
  let ratingScale: [number, number];
  if (Array.isArray(declared)) ratingScale = [declared[0], declared[1]];
  else {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of train.y) { if (r < lo) lo = r; if (r > hi) hi = r; }
    ratingScale = [lo, hi];
  }
  return {
    train: groupRows(train, groupBy === 'user' ? 0 : 1),
    test: test ? groupRows(test, 0) : null,
    classes: null,
    ratingScale,
  };
}

/** The rows ordered by one integer column (a stable counting sort: file order within a group). */
export function groupRows(t: Table, column: number): Table {
  let groups = 0;
  for (let r = 0; r < t.rows; r++) groups = Math.max(groups, t.x[r * t.cols + column] + 1);
  const starts = new Uint32Array(groups + 1);
  for (let r = 0; r < t.rows; r++) starts[t.x[r * t.cols + column] + 1]++;
  for (let g = 0; g < groups; g++) starts[g + 1] += starts[g];
  const order = new Uint32Array(t.rows);
  for (let r = 0; r < t.rows; r++) order[starts[t.x[r * t.cols + column]]++] = r;
  return selectRows(t, order);
}
