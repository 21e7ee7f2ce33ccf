import { FileSource } from '../config/job-spec';
import { DataError } from '../errors';
import { csvReader } from './csv';
import { idxReader } from './idx';
import { jsonlReader } from './jsonl';
import { Table, TableReader } from './table';

const readers = new Map<string, TableReader>([csvReader, jsonlReader, idxReader].map((r) => [r.format, r]));

/** Reads a data file with the reader registered for its format. */
export async function readTable(source: FileSource): Promise<Table> {
  const reader = readers.get(source.format);
  if (!reader) throw new DataError(`no reader for format '${source.format}' (known: ${[...readers.keys()].join(', ')})`);
  return reader.read(source);
}
