import { FileSource } from '../config/job-spec';
import { DataError } from '../errors';
import { csvReader } from './csv';
import { idxReader } from './idx';
import { jsonlReader } from './jsonl';
import { ratingsReader } from './ratings';
import { Table, TableReader } from './table';

const readers = new Map<string, TableReader>([csvReader, jsonlReader, idxReader, ratingsReader].map((r) => [r.format, r]));

/** Reads a data file with the reader registered for its format. */
export async function readTable(source: FileSource): Promise<Table> {
  const reader = readers.get(source.format);
  if (!reader) throw new DataError(`no reader for format '${source.format}' (known: ${[...readers.keys()].join(', ')})`);
  const table = await reader.read(source);
  if (source.limit === undefined || source.limit >= table.rows) return table;
  // Copied, so the rest of a large file can be freed.
  return {
    ...table, rows: source.limit, x: table.x.slice(0, source.limit * table.cols), y: table.y.slice(0, source.limit),
    ...(table.texts ? { texts: table.texts.slice(0, source.limit) } : {}),
  };
}
