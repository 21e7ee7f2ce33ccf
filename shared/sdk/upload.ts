import { resolve } from 'node:path';
import { ArgumentError } from '../errors';

/** The spec's fields that name data files, as `data.<split>.<field>`. */
export const DATA_PATH_FIELDS: readonly string[] = ['path', 'images', 'labels'].flatMap((f) => [`data.train.${f}`, `data.test.${f}`]);

/** What one upload tells: where the coordinator keeps the file. */
export interface UploadedFile {
  /** The file as given here. */
  local: string;
  /** The path jobs on that coordinator name it by. */
  path: string;
  /** False when the coordinator had the same file already (it keeps each once). */
  stored: boolean;
  sizeBytes: number;
  sha256: string;
}

/**
 * A copy of `spec` whose data files are uploaded with `upload` and named
 * by their paths on the coordinator; a file named twice (train and test)
 * is uploaded once. Relative paths resolve against `cwd`.
 *
 * @throws ArgumentError naming the field of a data path that is not a string.
 * @example
 * const { spec: remote } = await uploadDataFiles(spec, (file) => client.upload(file));
 */
export async function uploadDataFiles(
  spec: Record<string, unknown>, upload: (file: string) => Promise<UploadedFile>, cwd = process.cwd(),
): Promise<{ spec: Record<string, unknown>; uploaded: UploadedFile[] }> {
  const copy = structuredClone(spec);
  const done = new Map<string, UploadedFile>();
  for (const field of DATA_PATH_FIELDS) {
    const keys = field.split('.');
    const source = keys.slice(0, -1).reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), copy);
    if (!source || typeof source !== 'object') continue;
    const holder = source as Record<string, unknown>;
    const key = keys[keys.length - 1];
    const value = holder[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw new ArgumentError(`upload: '${field}' must be a file path, got ${JSON.stringify(value)}`);
    const local = resolve(cwd, value);
    let file = done.get(local);
    if (!file) {
      file = await upload(local);
      done.set(local, file);
    }
    holder[key] = file.path;
  }
  return { spec: copy, uploaded: [...done.values()] };
}
