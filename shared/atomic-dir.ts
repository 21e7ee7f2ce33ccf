import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataError } from './errors';

/**
 * Fills a new folder and puts it at `dir` in one rename, so `dir` is
 * either the old folder or the complete new one, never half of it (a
 * process killed while writing leaves only a `.partial-` folder beside
 * it, which the next writer of the same `tag` removes). The files are
 * fsynced before the rename.
 */
export async function replaceDir(dir: string, tag: string, fill: (tmp: string) => Promise<void>, replaceable: (entries: string[]) => boolean = () => true): Promise<void> {
  const parent = dirname(dir);
  const name = basename(dir);
  await makeDirs(parent);
  await refuseForeign(dir, replaceable);
  const stale = `${name}.partial-${tag}-`;
  for (const entry of await readdir(parent)) {
    if (entry.startsWith(stale)) await rm(join(parent, entry), { recursive: true, force: true });
  }
  const tmp = join(parent, `${stale}${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    await fill(tmp);
    await syncTree(tmp);
    const old = join(parent, `${name}.old-${randomBytes(4).toString('hex')}`);
    let moved = false;
    try {
      await rename(dir, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(tmp, dir);
    if (moved) await rm(old, { recursive: true, force: true });
    await syncPath(parent);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Checks, before the work that fills it, that {@link replaceDir} will be
 * able to put a folder at `dir`: its parent can be made, a folder can be
 * created there, and `dir` is not something it must refuse to replace.
 * Its probe folder is removed again (a parent it had to make stays, as
 * the export needs it).
 *
 * @throws DataError naming `dir` when it cannot be created, read or replaced.
 */
export async function checkReplaceable(dir: string, tag: string, replaceable: (entries: string[]) => boolean = () => true): Promise<void> {
  const parent = dirname(dir);
  // Random, as replaceDir's own folder: two attempts of one job (an evicted rank 0 still running) never share it.
  const probe = join(parent, `${basename(dir)}.partial-${tag}-${randomBytes(4).toString('hex')}`);
  try {
    await makeDirs(parent);
    await mkdir(probe);
    await rm(probe, { recursive: true, force: true });
  } catch (err) {
    // The probe's name is ours, not the user's: the message names the output.
    throw new DataError(`output ${dir} cannot be created: ${(err as Error).message.replace(probe, dir)}`, { cause: err });
  }
  try {
    await refuseForeign(dir, replaceable);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`output ${dir} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** What is at `dir`: nothing, something that is not a folder, or the folder's entries. */
export async function folderEntries(dir: string): Promise<string[] | 'absent' | 'not a folder'> {
  try {
    if (!(await stat(dir)).isDirectory()) return 'not a folder';
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}

/**
 * Refuses to replace something that is not what `replaceable` recognizes
 * (a file, or a folder of other things): replacing deletes it.
 */
async function refuseForeign(dir: string, replaceable: (entries: string[]) => boolean): Promise<void> {
  const entries = await folderEntries(dir);
  if (entries === 'absent') return;
  if (entries === 'not a folder') throw new DataError(`output ${dir} exists and is not a folder`);
  if (entries.length > 0 && !replaceable(entries)) {
    throw new DataError(`output ${dir} exists and holds files that are not a tfleet model: choose another output (it would be replaced)`);
  }
}

/**
 * `mkdir -p` one level at a time. Node's recursive mkdir never returns for
 * a path under /proc (it retries forever), which hung exports there.
 */
export async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!(await stat(dir)).isDirectory()) throw err;
      return;
    }
    if (code !== 'ENOENT' || dirname(dir) === dir) throw err;
    await makeDirs(dirname(dir));
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}

/** fsyncs every file under a folder, then the folder. */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else if (entry.isFile()) await syncPath(path);
  }
  await syncPath(dir);
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
