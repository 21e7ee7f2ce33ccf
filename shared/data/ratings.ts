import { FileSource, RATING_DELIMITERS, RatingScale } from '../config/job-spec';
import { DataError } from '../errors';
import { splitCsvLine } from './csv';
import { readText } from './files';
import { RatingIds, Table, TableReader } from './table';

/**
 * Most distinct users (or items) a ratings table may have: x holds their
 * dense indices as float32, which is exact for integers only up to 2^24.
 */
export const MAX_RATING_IDS = 2 ** 24;

/** Longest piece of a file's content a message quotes. */
const MAX_SHOWN = 40;

export interface ParseRatingsOptions {
  /** The file's name in messages. @default source.path */
  name?: string;
  /** Most distinct users, and most distinct items. @default MAX_RATING_IDS */
  maxIds?: number;
}

/**
 * Parses rating rows `user item rating [timestamp]` into a table whose
 * features are the dense user and item indices (0..n-1, in order of first
 * appearance) and whose label is the rating; `ids` maps indices back.
 * Fields are separated by tab, '::' or ',' (`source.delimiter`, else the
 * first of those that splits the first non-empty line into 3 or 4 fields).
 * A first row whose rating is not a number is a header and is skipped; a
 * timestamp is ignored; ratings outside `source.scale`, when declared, are
 * refused; `source.limit` stops reading after that many rows.
 *
 * @throws DataError naming the file, line and field of a bad row, e.g.
 *   `u1.base line 118: expected 3 or 4 fields (user, item, rating[, timestamp]) separated by tab, got 2`.
 * @example
 * const t = parseRatings('1::31::2.5\n1::1029::3\n', { format: 'ratings', path: 'ratings.dat' });
 * // t.x = [0, 0, 0, 1], t.y = [2.5, 3], t.ids = { users: ['1'], items: ['31', '1029'] }
 */
export function parseRatings(text: string, source: FileSource, options: ParseRatingsOptions = {}): Table {
  const name = options.name ?? source.path!;
  const maxIds = options.maxIds ?? MAX_RATING_IDS;
  const scale = ratingScale(source);
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  let end = lines.length;
  while (end > first && lines[end - 1].trim() === '') end--;
  if (first === end) throw new DataError(`${name}: empty file, expected rows of user, item, rating[, timestamp]`);

  const delimiter = source.delimiter ?? detectRatingDelimiter(lines[first]);
  const split = delimiter === ',' ? (line: string) => splitCsvLine(line, ',') : (line: string) => line.split(delimiter);
  const fieldsOf = (at: number): string[] => {
    const fields = split(lines[at]);
    if (fields.length !== 3 && fields.length !== 4) {
      throw new DataError(`${name} line ${at + 1}: expected 3 or 4 fields (user, item, rating[, timestamp]) separated by ${delimiterName(delimiter)}, got ${fields.length}`);
    }
    return fields;
  };
  const header = !isNumber(fieldsOf(first)[2]);
  const firstRow = header ? first + 1 : first;
  const capacity = Math.min(end - firstRow, source.limit ?? Infinity);
  if (capacity <= 0) throw new DataError(`${name}: no rating rows after the header`);

  const users = new IdIndex('user', name, maxIds);
  const items = new IdIndex('item', name, maxIds);
  const x = new Float32Array(capacity * 2);
  const y = new Float32Array(capacity);
  for (let r = 0; r < capacity; r++) {
    const at = firstRow + r;
    const lineNo = at + 1;
    if (lines[at].trim() === '') throw new DataError(`${name} line ${lineNo}: empty line among the rows (expected user, item, rating[, timestamp])`);
    const fields = fieldsOf(at);
    x[2 * r] = users.indexOf(fields[0], lineNo);
    x[2 * r + 1] = items.indexOf(fields[1], lineNo);
    y[r] = ratingOf(fields[2], name, lineNo, scale);
  }
  return {
    source: name, featureNames: ['user', 'item'], sampleShape: [2], labelName: 'rating', firstRowLine: firstRow + 1,
    rows: capacity, cols: 2, x, y, ids: { users: users.ids, items: items.ids },
  };
}

/**
 * The delimiter of a ratings file from one of its lines: the first of tab,
 * '::' and ',' that splits it into 3 or 4 fields, else the first that occurs
 * in it (the row is then refused with its field count), else tab.
 *
 * @example
 * detectRatingDelimiter('userId,movieId,rating,timestamp') // ','
 */
export function detectRatingDelimiter(line: string): string {
  const fits = RATING_DELIMITERS.find((d) => {
    const n = line.split(d).length;
    return n === 3 || n === 4;
  });
  return fits ?? RATING_DELIMITERS.find((d) => line.includes(d)) ?? RATING_DELIMITERS[0];
}

/**
 * Re-maps the user and item indices of a training table, and of a test
 * table into the same index space. Training users and items become
 * 0..nUsers-1 and 0..nItems-1 in order of first appearance in the training
 * rows, and its `ids` lists exactly those. A test user or item that training
 * never saw gets nUsers + k (nItems + k), k counting such ids in order of
 * first appearance in the test rows; the test table's `ids` is the
 * training table's, so an index ≥ its length means "not seen in training".
 * Needed after a holdout split (the training rows may not use every id) and
 * for separate train and test files (each read with its own maps).
 *
 * @throws Error when either table has no `ids` (not a ratings table) or an index has no id.
 * @throws DataError when the unseen test ids would take an index past {@link MAX_RATING_IDS}.
 * @example
 * const { train, test } = reindexRatings(selectRows(t, split.train), selectRows(t, split.test));
 */
export function reindexRatings(train: Table, test: Table | null): { train: Table; test: Table | null } {
  const trainIds = idsOf(train);
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const trainX = new Float32Array(train.rows * 2);
  for (let r = 0; r < train.rows; r++) {
    trainX[2 * r] = denseIndex(users, idAt(trainIds.users, train.x[2 * r], train, r, 'user'));
    trainX[2 * r + 1] = denseIndex(items, idAt(trainIds.items, train.x[2 * r + 1], train, r, 'item'));
  }
  const ids: RatingIds = { users: [...users.keys()], items: [...items.keys()] };
  const reindexedTrain: Table = { ...train, x: trainX, ids };
  if (test === null) return { train: reindexedTrain, test: null };

  const testIds = idsOf(test);
  // Unseen ids continue after the known ones, in the maps' insertion order.
  const testX = new Float32Array(test.rows * 2);
  for (let r = 0; r < test.rows; r++) {
    testX[2 * r] = denseIndex(users, idAt(testIds.users, test.x[2 * r], test, r, 'user'));
    testX[2 * r + 1] = denseIndex(items, idAt(testIds.items, test.x[2 * r + 1], test, r, 'item'));
  }
  for (const [what, map] of [['users', users], ['items', items]] as const) {
    if (map.size > MAX_RATING_IDS) {
      throw new DataError(`${test.source}: ${map.size} distinct ${what} in training and test together; indices are float32, exact only up to ${MAX_RATING_IDS} (2^24) ids`);
    }
  }
  return { train: reindexedTrain, test: { ...test, x: testX, ids } };
}

/** Whether a table holds ratings (user and item indices with their ids). */
export function isRatings(t: Table): boolean {
  return t.ids !== undefined;
}

export const ratingsReader: TableReader = {
  format: 'ratings',
  async read(source: FileSource): Promise<Table> {
    return parseRatings(await readText(source.path!), source);
  },
};

/** Dense indices of ids in order of first appearance, bounded in number. */
class IdIndex {
  private readonly index = new Map<string, number>();
  readonly ids: string[] = [];

  constructor(private readonly field: 'user' | 'item', private readonly file: string, private readonly maxIds: number) {}

  /** @throws DataError for an empty id, or one more than `maxIds` distinct ids. */
  indexOf(raw: string, lineNo: number): number {
    const id = raw.trim();
    const known = this.index.get(id);
    if (known !== undefined) return known;
    if (id === '') throw new DataError(`${this.file} line ${lineNo} field '${this.field}': empty id`);
    if (this.ids.length === this.maxIds) {
      throw new DataError(`${this.file} line ${lineNo} field '${this.field}': ${this.ids.length + 1} distinct ${this.field}s; at most ${this.maxIds} fit, as indices are float32, exact only up to 2^24`);
    }
    this.index.set(id, this.ids.length);
    this.ids.push(id);
    return this.ids.length - 1;
  }
}

function ratingScale(source: FileSource): RatingScale | undefined {
  if (source.scale === undefined) return undefined;
  // The job spec checks this; a source built in code may not have been.
  if (!Array.isArray(source.scale)) throw new DataError(`${source.path}: 'scale' of a ratings source must be [min, max], got ${source.scale}`);
  return source.scale as RatingScale;
}

/** @throws DataError when the field is not a number or lies outside the declared scale. */
function ratingOf(field: string, name: string, lineNo: number, scale: RatingScale | undefined): number {
  const text = field.trim();
  if (!isNumber(text)) throw new DataError(`${name} line ${lineNo} field 'rating': not a number: '${shown(field)}'`);
  const v = Number(text);
  if (scale !== undefined && !(v >= scale[0] && v <= scale[1])) {
    throw new DataError(`${name} line ${lineNo} field 'rating': ${shown(text)} is outside the declared scale [${scale[0]}, ${scale[1]}]`);
  }
  return v;
}

function isNumber(field: string): boolean {
  const text = field.trim();
  return text !== '' && Number.isFinite(Number(text));
}

function shown(field: string): string {
  return field.length > MAX_SHOWN ? `${field.slice(0, MAX_SHOWN)}…` : field;
}

function delimiterName(d: string): string {
  return d === '\t' ? 'tab' : `'${d}'`;
}

function idsOf(t: Table): RatingIds {
  if (t.ids === undefined) throw new Error(`reindexRatings: ${t.source} is not a ratings table (it has no ids)`);
  return t.ids;
}

function idAt(ids: readonly string[], index: number, t: Table, r: number, field: 'user' | 'item'): string {
  const id = ids[index];
  if (id === undefined) throw new Error(`reindexRatings: ${t.source} row ${r + 1} has ${field} index ${index}, which has no id (${ids.length} known)`);
  return id;
}

function denseIndex(map: Map<string, number>, id: string): number {
  let i = map.get(id);
  if (i === undefined) map.set(id, (i = map.size));
  return i;
}
