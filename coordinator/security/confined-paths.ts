import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { FileSource, JobSpec, isHoldout } from '../../shared/config/job-spec';
import { SpecError } from '../../shared/errors';

/** Where a job may read and write: its data inside one of `dataRoots`, its output inside `runsDir`. */
export interface PathPolicy {
  /** Real paths of the folders data may come from; empty: anywhere a regular file is. */
  dataRoots: string[];
  /** Real path of the folder outputs must be inside, when `dataRoots` is set. */
  runsDir: string;
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest (an output not made yet). */
async function realOrNearest(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    if (parent === path) return path;
    return resolve(await realOrNearest(parent), relative(parent, path));
  }
}

/** Makes a policy from the flags, resolving the roots' own symlinks. */
export async function pathPolicy(dataRoots: readonly string[], runsDir: string): Promise<PathPolicy> {
  return { dataRoots: await Promise.all(dataRoots.map((r) => realOrNearest(resolve(r)))), runsDir: await realOrNearest(resolve(runsDir)) };
}

/**
 * Refuses a job whose data files resolve (after symlinks) outside every
 * data root, or whose output resolves outside the runs folder.
 *
 * @throws SpecError naming the field, e.g. `data.train.path`.
 */
export async function checkJobPaths(spec: JobSpec, policy: PathPolicy): Promise<void> {
  if (policy.dataRoots.length === 0) return;
  const sources: [string, FileSource][] = [['data.train', spec.data.train]];
  if (spec.data.test && !isHoldout(spec.data.test)) sources.push(['data.test', spec.data.test]);
  for (const [at, source] of sources) {
    for (const field of ['path', 'images', 'labels'] as const) {
      const p = source[field];
      if (p === undefined) continue;
      const real = await realOrNearest(resolve(p));
      if (!policy.dataRoots.some((root) => inside(real, root))) {
        throw new SpecError(`${at}.${field}`, `is outside the data roots this coordinator reads from (--data-root)`);
      }
    }
  }
  if (spec.output !== undefined) {
    const real = await realOrNearest(resolve(spec.output));
    if (!inside(real, policy.runsDir) || real === policy.runsDir) throw new SpecError('output', `must be a folder inside the coordinator's runs folder (--runs-dir)`);
  }
}
