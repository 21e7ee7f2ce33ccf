import { FileSource } from '../config/job-spec';
import { DataError, fewOf } from '../errors';
import { readText } from './files';
import { Table, TableReader } from './table';

/**
 * Splits one line into cells; double quotes group, "" escapes a quote.
 * For callers that read line by line (ratings, item titles); a table's
 * records, whose quoted fields may span lines, come from {@link readCsvRecords}.
 *
 * @example
 * splitCsvLine('1,"Toy Story (1995)",x', ','); // ['1', 'Toy Story (1995)', 'x']
 */
export function splitCsvLine(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter);
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) { cells.push(cell); cell = ''; }
    else cell += c;
  }
  cells.push(cell);
  return cells;
}

/** One CSV record (row) and the file line it starts on (1-based). */
export interface CsvRecord {
  readonly cells: string[];
  readonly line: number;
}

/**
 * Splits CSV text into records as RFC 4180 reads it: a field that starts
 * with a double quote is quoted, and may hold the delimiter, doubled quotes
 * ("" for ") and line breaks. A quote inside an unquoted field is an
 * ordinary character (`5" screen`), as Python's csv module reads it; after
 * a closing quote the field goes on unquoted. Records end at LF or CRLF.
 *
 * @throws DataError like `reviews.csv line 7: a quoted field opened on this line is not closed by the end of the file`.
 * @example
 * readCsvRecords('a,"b\nc"\n1,2\n', ',', 'x.csv'); // [{ cells: ['a', 'b\nc'], line: 1 }, { cells: ['1', '2'], line: 3 }]
 */
export function readCsvRecords(text: string, delimiter: string, name: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let pos = 0;
  let line = 1;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const raw = text.slice(pos, end);
    // Most lines hold no quote: split them whole, as fast as before quoting was read.
    if (!raw.includes('"')) {
      records.push({ cells: (raw.endsWith('\r') ? raw.slice(0, -1) : raw).split(delimiter), line });
      pos = end + 1;
      line++;
      continue;
    }
    const read = readQuotedRecord(text, pos, delimiter);
    if (read === null) throw new DataError(`${name} line ${line}: a quoted field opened on this line is not closed by the end of the file`);
    records.push({ cells: read.cells, line });
    pos = read.next;
    line += read.lines;
  }
  return records;
}

/** One record from `pos` that has a quote in it; null when a quoted field never closes. */
function readQuotedRecord(text: string, pos: number, delimiter: string): { cells: string[]; next: number; lines: number } | null {
  const cells: string[] = [];
  let cell = '';
  let lines = 1;
  let i = pos;
  for (;;) {
    if (text[i] === '"') {
      // A quoted field: whole runs up to the next quote, which closes it unless doubled.
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return null;
        const run = text.slice(i, q);
        for (let n = run.indexOf('\n'); n >= 0; n = run.indexOf('\n', n + 1)) lines++;
        cell += run;
        if (text[q + 1] !== '"') { i = q + 1; break; }
        cell += '"';
        i = q + 2;
      }
    }
    // Unquoted (or after a closing quote): up to the delimiter or the line's end; quotes here are text.
    let j = i;
    while (j < text.length && text[j] !== '\n' && !text.startsWith(delimiter, j)) j++;
    const atLineEnd = j >= text.length || text[j] === '\n';
    cell += text.slice(i, atLineEnd && text[j - 1] === '\r' && j > i ? j - 1 : j);
    cells.push(cell);
    cell = '';
    if (atLineEnd) return { cells, next: j + 1, lines };
    i = j + delimiter.length;
  }
}

/** Cells that mean "no value" in a feature column; they are read as NaN (missing). */
export const MISSING_CELLS: readonly string[] = ['', 'NaN', 'nan', 'NA', '?'];

/** A record of one blank line (trailing blank lines are not rows). */
function isBlank(r: CsvRecord): boolean {
  return r.cells.length === 1 && r.cells[0].trim() === '';
}

/** The columns of a file: from its header row, or from `columns` when `header` is false. */
interface CsvLayout {
  columns: string[];
  body: CsvRecord[];
  /** Where a missing column is reported: `t.csv line 1` (the header), or the file. */
  where: string;
  /** How the columns are listed in messages. */
  listed: string;
}

/** Header cells a message may show: a few, and only ones that look like column names. */
const SHOWN_COLUMNS = 4;
// '/', '+' and '&' appear in real names (wine's od280/od315_of_diluted_wines); ':' does not, and would pass an /etc/passwd line.
const COLUMN_NAME = /^[\p{L}\p{N}_ .()%#/+&-]{1,40}$/u;
// A long run of base64's alphabet with no separator is a key or a token, not a name (a secret key is 40 such characters).
const TOKEN_LIKE = /^[A-Za-z0-9+/=]{16,}$/;

/**
 * How a message lists a file's header. Never more than the first few
 * cells, and none unless the file is a table (every row has the header's
 * number of cells) whose first cells look like names: a message about a
 * file that is not a table must not quote its first line.
 */
function headerListing(columns: readonly string[], body: readonly CsvRecord[]): string {
  const table = body.every((r) => r.cells.length === columns.length || isBlank(r));
  if (!table) return 'the file is not a table: its lines split into different numbers of cells';
  const count = `${columns.length} column${columns.length === 1 ? '' : 's'}`;
  // A header names its columns once each, in words: numbers or repeats say the first line is a row, not a header.
  const named = columns.every((c) => COLUMN_NAME.test(c) && !TOKEN_LIKE.test(c) && !Number.isFinite(Number(c))) && new Set(columns).size === columns.length;
  if (!named) return `${count}; the header's cells do not look like column names`;
  return `${count}: ${fewOf(columns, SHOWN_COLUMNS)}`;
}

function layoutOf(records: CsvRecord[], source: FileSource, name: string): CsvLayout {
  if (source.header ?? true) {
    if (records.length === 0 || isBlank(records[0])) throw new DataError(`${name}: empty file, expected a header row`);
    const columns = records[0].cells.map((h) => h.trim());
    const body = records.slice(1);
    if (body.length === 0) throw new DataError(`${name}: no data rows after the header`);
    return { columns, body, where: `${name} line ${records[0].line}`, listed: headerListing(columns, body) };
  }
  const columns = source.columns;
  if (columns === undefined || columns.length === 0) throw new DataError(`${name}: 'header' is false, so 'columns' must name the columns`);
  if (records.length === 0) throw new DataError(`${name}: no data rows (expected rows of ${columns.join(', ')})`);
  return { columns: [...columns], body: records, where: name, listed: `columns: ${columns.join(', ')}, as 'columns' names them` };
}

/**
 * Parses CSV text: a header row (or `columns` with `header: false`), then
 * one record per row, quoted as RFC 4180 allows (see {@link readCsvRecords}).
 * Feature cells are numbers; one that is empty or one of
 * {@link MISSING_CELLS} is read as NaN (missing): the tree families learn
 * where such rows go, the others refuse them. The `text` column is kept as
 * a string per row (`texts`). Labels are numbers when every label cell is
 * one; otherwise they are class names (`labelNames`, in order of first
 * appearance) and `y` holds their indices. Messages name the file line a
 * row starts on, also after a quoted field that spans lines.
 *
 * @throws DataError like `wine.csv line 118 column 'alcohol': not a number: 'n/a'`.
 * @example
 * parseCsv('review,stars\n"Good, really",5\n', { format: 'csv', path: 'r.csv', label: 'stars', text: 'review' });
 */
export function parseCsv(text: string, source: FileSource, name = source.path!): Table {
  const records = readCsvRecords(text, source.delimiter ?? ',', name);
  while (records.length > 0 && isBlank(records[records.length - 1])) records.pop();
  const { columns, body, where, listed } = layoutOf(records, source, name);
  // Without a label (rows to predict), every column is a feature unless 'features' names them.
  const label = source.label ?? '';
  const labelAt = source.label === undefined ? -1 : columns.indexOf(label);
  if (source.label !== undefined && labelAt < 0) throw new DataError(`${where}: label column '${label}' not found (${listed})`);
  const textAt = source.text === undefined ? -1 : columns.indexOf(source.text);
  if (source.text !== undefined && textAt < 0) throw new DataError(`${where}: text column '${source.text}' not found (${listed})`);
  if (textAt >= 0 && textAt === labelAt) throw new DataError(`${where}: column '${label}' is the label and cannot also be the text`);
  const featureNames = source.features ?? columns.filter((_, i) => i !== labelAt && i !== textAt);
  const featureAt = featureNames.map((f) => {
    const at = columns.indexOf(f);
    if (at < 0) throw new DataError(`${where}: feature column '${f}' not found (${listed})`);
    if (at === labelAt) throw new DataError(`${where}: column '${f}' is the label and cannot also be a feature`);
    if (at === textAt) throw new DataError(`${where}: column '${f}' is the text and cannot also be a feature`);
    return at;
  });
  const rows = body.length;
  const cols = featureNames.length;
  const x = new Float32Array(rows * cols);
  const labels = new Labels(name, label);
  const texts: string[] | undefined = textAt >= 0 ? new Array<string>(rows) : undefined;
  let firstMissing: string | undefined;
  for (let r = 0; r < rows; r++) {
    const { cells, line } = body[r];
    if (cells.length !== columns.length) {
      const expected = source.header ?? true ? 'cells as in the header' : `fields (${columns.join(', ')})`;
      throw new DataError(`${name} line ${line}: expected ${columns.length} ${expected}, got ${cells.length}`);
    }
    for (let c = 0; c < cols; c++) {
      const at = featureAt[c];
      const cell = cells[at].trim();
      if (MISSING_CELLS.includes(cell)) {
        x[r * cols + c] = NaN;
        firstMissing ??= `line ${line} column '${columns[at]}'`;
        continue;
      }
      const v = Number(cell);
      if (!Number.isFinite(v)) throw new DataError(`${name} line ${line} column '${columns[at].slice(0, 40)}': not a number: '${cells[at].slice(0, 40)}'`);
      x[r * cols + c] = v;
    }
    if (texts) texts[r] = cells[textAt];
    if (labelAt >= 0) labels.add(cells[labelAt], line);
  }
  // Row r is on line firstRowLine + r only while no quoted field spans lines.
  const oneLineEach = body[rows - 1].line === body[0].line + rows - 1;
  return {
    source: name, featureNames, sampleShape: [cols], labelName: label, firstRowLine: oneLineEach ? body[0].line : null,
    rows, cols, x, ...labels.finish(rows), firstMissing, ...(texts ? { texts } : {}),
  };
}

/**
 * Label cells, read as numbers until one is not: then every label is a
 * class name. Kept as strings until the end, so that a name on the last
 * row turns the earlier numbers into names too.
 */
class Labels {
  private readonly cells: string[] = [];
  private numeric = true;

  constructor(private readonly name: string, private readonly column: string) {}

  /** @throws DataError on an empty label cell, naming its line. */
  add(raw: string, line: number): void {
    const cell = raw.trim();
    if (cell === '') {
      // While every label so far is a number this is the numeric reader's message, as it always was.
      throw new DataError(`${this.name} line ${line} column '${this.column}': ${this.numeric ? "not a number: ''" : 'empty label (the labels are class names)'}`);
    }
    if (this.numeric && !Number.isFinite(Number(cell))) this.numeric = false;
    this.cells.push(cell);
  }

  /** `y` (numbers or name indices) and, for names, `labelNames`. */
  finish(rows: number): { y: Float32Array; labelNames?: string[] } {
    const y = new Float32Array(rows);
    if (this.cells.length === 0) return { y };
    if (this.numeric) {
      this.cells.forEach((c, r) => (y[r] = Number(c)));
      return { y };
    }
    const index = new Map<string, number>();
    this.cells.forEach((c, r) => {
      let k = index.get(c);
      if (k === undefined) index.set(c, (k = index.size));
      y[r] = k;
    });
    return { y, labelNames: [...index.keys()] };
  }
}

export const csvReader: TableReader = {
  format: 'csv',
  async read(source: FileSource): Promise<Table> {
    return parseCsv(await readText(source.path!), source);
  },
};
