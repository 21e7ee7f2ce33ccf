import { FileSource } from '../config/job-spec';

/**
 * Rows of numeric features with one label each, row-major. What the
 * tabular families train on, whatever file format it came from.
 */
export interface Table {
  /** Where the rows came from, for error messages. */
  readonly source: string;
  /** Names of the features (csv columns, jsonl fields); empty for array samples (images, sequences). */
  readonly featureNames: readonly string[];
  /** Shape of one sample; its product is `cols`: [cols] for tabular rows, [28, 28] for an IDX image. */
  readonly sampleShape: readonly number[];
  readonly labelName: string;
  /** File line of row 0 (2 for csv after its header, 1 for jsonl); null for binary files, whose rows are items. */
  readonly firstRowLine: number | null;
  readonly rows: number;
  readonly cols: number;
  /** rows × cols feature values. */
  readonly x: Float32Array;
  /** One label per row. */
  readonly y: Float32Array;
  /** Where the first missing feature value (NaN) is, for messages: `line 7 column 'age'`. */
  readonly firstMissing?: string;
  /** Ratings tables: original user and item ids by dense index (x holds the indices). */
  readonly ids?: RatingIds;
  /** Text sources: one string per row (the `text` field or column); `x` holds the numeric features beside it (possibly none). */
  readonly texts?: readonly string[];
  /** String labels: the label of row r is labelNames[y[r]] (y holds indices). Absent when labels are numbers. */
  readonly labelNames?: readonly string[];
}

/**
 * The original ids of a ratings table: `users[i]` is the id whose dense
 * index is `i` in column 0 of `x`, `items[j]` likewise for column 1.
 */
export interface RatingIds {
  users: readonly string[];
  items: readonly string[];
}

/** Reads one data file format into a table. IDX, ratings and JSONL readers plug in here. */
export interface TableReader {
  readonly format: string;
  /** @throws DataError naming the file, line and column of a bad cell. */
  read(source: FileSource): Promise<Table>;
}

/** Where row `r` came from, for messages: `line 12` or `item 7`. */
export function rowOrigin(t: Table, r: number): string {
  return t.firstRowLine === null ? `item ${r + 1}` : `line ${t.firstRowLine + r}`;
}

/**
 * Copies the given rows (by index) of a table into a new one, their texts
 * with them.
 *
 * @example
 * const test = selectRows(table, split.test);
 */
export function selectRows(t: Table, indices: ArrayLike<number>): Table {
  const x = new Float32Array(indices.length * t.cols);
  const y = new Float32Array(indices.length);
  const texts = t.texts ? new Array<string>(indices.length) : undefined;
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    x.set(t.x.subarray(r * t.cols, (r + 1) * t.cols), i * t.cols);
    y[i] = t.y[r];
    if (texts) texts[i] = t.texts![r];
  }
  // Row numbers no longer match the file once rows are picked. `ids` and
  // `labelNames` are kept whole (they may list ids or names no picked row
  // uses; reindexRatings makes ids exact, and class numbering must not move).
  return { ...t, rows: indices.length, x, y, firstRowLine: null, ...(texts ? { texts } : {}) };
}
