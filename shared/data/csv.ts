import { FileSource } from '../config/job-spec';
import { DataError } from '../errors';
import { readText } from './files';
import { Table, TableReader } from './table';

/** Splits one CSV line into cells; double quotes group, "" escapes a quote. */
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

/** Cells that mean "no value" in a feature column; they are read as NaN (missing). */
export const MISSING_CELLS: readonly string[] = ['', 'NaN', 'nan', 'NA', '?'];

/**
 * Parses CSV text with one header row and numeric cells. A feature cell
 * that is empty or one of {@link MISSING_CELLS} is read as NaN (missing):
 * the tree families learn where such rows go, the others refuse them.
 *
 * @throws DataError like `wine.csv line 118 column 'alcohol': not a number: 'n/a'`.
 */
export function parseCsv(text: string, source: FileSource, name = source.path!): Table {
  const lines = text.split(/\r?\n/);
  if (lines.length === 0 || lines[0].trim() === '') throw new DataError(`${name}: empty file, expected a header row`);
  const header = splitCsvLine(lines[0], source.delimiter ?? ',').map((h) => h.trim());
  // Without a label (rows to predict), every column is a feature unless 'features' names them.
  const label = source.label ?? '';
  const labelAt = source.label === undefined ? -1 : header.indexOf(label);
  if (source.label !== undefined && labelAt < 0) {
    throw new DataError(`${name} line 1: label column '${label}' not found (columns: ${header.join(', ')})`);
  }
  const featureNames = source.features ?? header.filter((_, i) => i !== labelAt);
  const featureAt = featureNames.map((f) => {
    const at = header.indexOf(f);
    if (at < 0) throw new DataError(`${name} line 1: feature column '${f}' not found (columns: ${header.join(', ')})`);
    if (at === labelAt) throw new DataError(`${name} line 1: column '${f}' is the label and cannot also be a feature`);
    return at;
  });
  let last = lines.length;
  while (last > 1 && lines[last - 1].trim() === '') last--;
  const rows = last - 1;
  if (rows === 0) throw new DataError(`${name}: no data rows after the header`);
  const cols = featureNames.length;
  const x = new Float32Array(rows * cols);
  const y = new Float32Array(rows);
  let firstMissing: string | undefined;
  for (let r = 0; r < rows; r++) {
    const lineNo = r + 2;
    const cells = splitCsvLine(lines[r + 1], source.delimiter ?? ',');
    if (cells.length !== header.length) {
      throw new DataError(`${name} line ${lineNo}: expected ${header.length} cells as in the header, got ${cells.length}`);
    }
    const cell = (at: number): number => {
      const text = cells[at].trim();
      const v = Number(text);
      if (text === '' || !Number.isFinite(v)) {
        throw new DataError(`${name} line ${lineNo} column '${header[at]}': not a number: '${cells[at]}'`);
      }
      return v;
    };
    for (let c = 0; c < cols; c++) {
      const at = featureAt[c];
      if (MISSING_CELLS.includes(cells[at].trim())) {
        x[r * cols + c] = NaN;
        firstMissing ??= `line ${lineNo} column '${header[at]}'`;
      } else x[r * cols + c] = cell(at);
    }
    if (labelAt >= 0) y[r] = cell(labelAt);
  }
  return { source: name, featureNames, sampleShape: [cols], labelName: label, firstRowLine: 2, rows, cols, x, y, firstMissing };
}

export const csvReader: TableReader = {
  format: 'csv',
  async read(source: FileSource): Promise<Table> {
    return parseCsv(await readText(source.path!), source);
  },
};
