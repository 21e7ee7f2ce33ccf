import { open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { makeDirs } from '../../shared/atomic-dir';
import { join } from 'node:path';
import { Logger } from '../../shared/log';
import { Checkpoint, decodeCheckpoint, encodeCheckpoint } from './checkpoint-file';

/** Checkpoints kept per job: the newest, and the one before in case the newest is damaged. */
const KEEP = 2;

const FILE = /^round-(\d{6,})\.ckpt$/;

/**
 * Job checkpoints under `<stateDir>/checkpoints/<job id>/round-NNNNNN.ckpt`.
 * A checkpoint is written to a temporary file, fsynced, renamed into place
 * and its folder fsynced, so a crash leaves the old one or the new one,
 * never half of one; the last two are kept.
 */
export class CheckpointStore {
  private readonly dir: string;

  constructor(stateDir: string, private readonly log: Logger) {
    this.dir = join(stateDir, 'checkpoints');
  }

  /** Writes a checkpoint durably and removes all but the newest {@link KEEP}; resolves with its size in bytes. */
  async save(c: Checkpoint): Promise<number> {
    const dir = join(this.dir, c.jobId);
    await makeDirs(dir);
    const name = `round-${String(c.round).padStart(6, '0')}.ckpt`;
    const bytes = encodeCheckpoint(c);
    const tmp = join(dir, `${name}.tmp`);
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, join(dir, name));
    await syncDir(dir);
    for (const old of (await this.files(c.jobId)).slice(KEEP)) await rm(join(dir, old), { force: true });
    return bytes.length;
  }

  /** The newest checkpoint of a job that reads back whole, or null; damaged ones are logged and skipped. */
  async latest(jobId: string): Promise<Checkpoint | null> {
    for (const name of await this.files(jobId)) {
      try {
        const c = decodeCheckpoint(await readFile(join(this.dir, jobId, name)), `${jobId}/${name}`);
        if (c.jobId === jobId) return c;
      } catch (err) {
        this.log.warn('skipping a checkpoint that does not read back', { job: jobId, file: name, error: (err as Error).message });
      }
    }
    return null;
  }

  /** Removes a job's checkpoints (it ended). */
  async drop(jobId: string): Promise<void> {
    await rm(join(this.dir, jobId), { recursive: true, force: true });
  }

  /** A job's checkpoint files, newest first. */
  private async files(jobId: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, jobId));
    } catch {
      return [];
    }
    return names.filter((n) => FILE.test(n)).sort().reverse();
  }
}

/** Makes a rename durable: fsync of the folder that holds it. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
