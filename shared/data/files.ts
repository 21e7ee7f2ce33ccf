import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../errors';

/** Reads a text data file whole, with errors that name it. */
export async function readText(path: string): Promise<string> {
  return (await readData(path)).toString('utf8');
}

/** Reads a data file whole, with errors that name it. */
export async function readData(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`data file not found: ${path}`, { cause: err });
    if (code === 'EISDIR') throw new DataError(`data path is a folder, not a file: ${path}`, { cause: err });
    throw new DataError(`cannot read data file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Most bytes a gzip data file may expand to; a bigger one is refused rather than exhausting memory. */
export const MAX_INFLATED_BYTES = 2 ** 30;

/** The file's bytes, inflated when they start with the gzip magic. */
export async function readMaybeGzip(path: string): Promise<Buffer> {
  const raw = await readData(path);
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return gunzipSync(raw, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (err) {
    throw new DataError(`${path}: gzip data is corrupt or too large: ${(err as Error).message}`, { cause: err });
  }
}
