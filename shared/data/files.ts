import { open, realpath } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../errors';

/** Reads a text data file whole, with errors that name it. */
export async function readText(path: string): Promise<string> {
  return (await readData(path)).toString('utf8');
}

/**
 * Largest data file read, in bytes (`TFLEET_MAX_DATA_BYTES`, default 2 GiB).
 * A file is read whole, so this bounds the memory one source takes.
 */
export function maxDataBytes(): number {
  const set = Number(process.env.TFLEET_MAX_DATA_BYTES);
  return Number.isInteger(set) && set > 0 ? set : 2 ** 31;
}

/** Kernel and device file systems: their "files" are a process's or the machine's state, never data. */
const SPECIAL_ROOTS = ['/proc/', '/sys/', '/dev/'];

/**
 * Reads a data file whole, with errors that name it (never its content).
 * Only a regular file outside /proc, /sys and /dev is read, and only when
 * it is at most {@link maxDataBytes}; its size is read before its bytes.
 */
export async function readData(path: string): Promise<Buffer> {
  try {
    const real = await realpath(path);
    if (SPECIAL_ROOTS.some((root) => real.startsWith(root))) throw new DataError(`data path ${path} is a system file (under ${real.split('/')[1] ? `/${real.split('/')[1]}` : '/'}), not a data file`);
    const handle = await open(real, 'r');
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new DataError(`data path ${path} is ${stat.isDirectory() ? 'a folder' : 'not a regular file (a device, pipe or socket)'}, not a data file`);
      const limit = maxDataBytes();
      if (stat.size > limit) throw new DataError(`data file ${path} holds ${stat.size} bytes, more than the limit of ${limit} (TFLEET_MAX_DATA_BYTES)`);
      const bytes = Buffer.alloc(stat.size);
      let at = 0;
      while (at < bytes.length) {
        const { bytesRead } = await handle.read(bytes, at, bytes.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at === bytes.length ? bytes : bytes.subarray(0, at);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
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
