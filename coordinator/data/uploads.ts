import { createHash, randomBytes } from 'node:crypto';
import { FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../../shared/atomic-dir';
import { ArgumentError, TfleetError } from '../../shared/errors';

/**
 * A file's base name as uploads take it: letters, digits, '.', '_' and '-',
 * at most 128 characters, not starting with '.' (so never '.', '..' or a
 * hidden file) and without any separator (so never a folder).
 */
const UPLOAD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** What the first piece of an upload says the whole file is. */
export interface UploadHeader {
  name: string;
  sizeBytes: number;
  /** SHA-256 of the whole file, lower-case hex. */
  sha256: string;
}

/** Where an uploaded file is kept, and whether this upload stored it (false: it was there already). */
export interface StoredUpload {
  path: string;
  stored: boolean;
  sizeBytes: number;
  sha256: string;
}

/**
 * Data files clients upload, content-addressed: `<dir>/<sha256>/<name>`,
 * so the same file uploaded twice is kept once, and a job's errors still
 * name the file as its owner knows it. A file arrives in a temporary file
 * beside the others, is hashed as it arrives, and is renamed into place
 * only when its size and SHA-256 match what its first piece promised.
 *
 * @example
 * const store = new UploadStore('/data/uploads', () => 2 ** 31);
 * const upload = await store.begin({ name: 'wine.csv', sizeBytes: 11_000, sha256 });
 * await upload.write(bytes);
 * const { path } = await upload.finish();
 */
export class UploadStore {
  /** `maxBytes`: the largest file accepted (the data readers' own limit, --max-data-bytes). */
  constructor(readonly dir: string, private readonly maxBytes: () => number) {}

  /**
   * Starts receiving one file.
   * @throws ArgumentError naming a bad name, size or checksum; RESOURCE_EXHAUSTED for a file over the limit.
   */
  async begin(header: UploadHeader): Promise<Upload> {
    const { name, sizeBytes, sha256 } = header;
    if (!UPLOAD_NAME.test(name)) {
      throw new ArgumentError(`upload: the file name ${JSON.stringify(name.slice(0, 64))} is not a plain base name (letters, digits, '.', '_', '-'; not starting with '.'; at most 128 characters)`);
    }
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new ArgumentError(`upload ${name}: size must be a whole number of bytes ≥ 0, got ${sizeBytes}`);
    const limit = this.maxBytes();
    if (sizeBytes > limit) {
      throw new TfleetError('RESOURCE_EXHAUSTED', `upload ${name}: ${sizeBytes} bytes is more than the coordinator's limit of ${limit} (--max-data-bytes)`);
    }
    if (!SHA256_HEX.test(sha256)) throw new ArgumentError(`upload ${name}: sha256 must be 64 lower-case hex digits`);
    await makeDirs(this.dir);
    const temp = join(this.dir, `.incoming-${randomBytes(8).toString('hex')}`);
    return new Upload(header, join(this.dir, sha256), temp, await open(temp, 'wx', 0o640));
  }
}

/** One file being received; `finish` or `abort` ends it. */
export class Upload {
  private readonly hash = createHash('sha256');
  private received = 0;
  private done = false;
  private closed = false;

  constructor(readonly header: UploadHeader, private readonly folder: string, private readonly temp: string, private readonly file: FileHandle) {}

  /**
   * Appends the next piece.
   * @throws ArgumentError when the pieces add up to more than the size promised.
   */
  async write(bytes: Uint8Array): Promise<void> {
    this.received += bytes.byteLength;
    if (this.received > this.header.sizeBytes) {
      throw new ArgumentError(`upload ${this.header.name}: more than the ${this.header.sizeBytes} bytes its first piece announced`);
    }
    this.hash.update(bytes);
    await this.file.write(bytes);
  }

  /**
   * Checks the whole file and puts it in place.
   * @throws ArgumentError when its size or SHA-256 differ from what was announced (nothing is kept).
   */
  async finish(): Promise<StoredUpload> {
    const { name, sizeBytes, sha256 } = this.header;
    try {
      if (this.received !== sizeBytes) throw new ArgumentError(`upload ${name}: ${this.received} bytes arrived, ${sizeBytes} were announced`);
      const got = this.hash.digest('hex');
      if (got !== sha256) throw new ArgumentError(`upload ${name}: the bytes that arrived have SHA-256 ${got}, not the ${sha256} announced`);
      await this.file.sync();
      await this.close();
      const path = join(this.folder, name);
      await makeDirs(this.folder);
      const there = await stat(path).then((s) => s.isFile() && s.size === sizeBytes, () => false);
      if (there) {
        await rm(this.temp, { force: true });
      } else {
        await rename(this.temp, path);
      }
      this.done = true;
      return { path, stored: !there, sizeBytes, sha256 };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Drops what arrived (a failed or cancelled upload). */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.close();
    await rm(this.temp, { force: true });
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }
}
