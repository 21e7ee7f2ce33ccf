import { writeFile } from 'node:fs/promises';
import { makeDirs } from '../../shared/atomic-dir';
import { join } from 'node:path';
import { JobRecord } from './job-record';

/**
 * Writes a finished job's `spec.json` and `metrics.json` into its output
 * folder, beside the model rank 0 exported there.
 */
export async function writeJobResults(record: JobRecord): Promise<void> {
  await makeDirs(record.output);
  await writeFile(join(record.output, 'spec.json'), JSON.stringify(record.spec, null, 2));
  await writeFile(join(record.output, 'metrics.json'), JSON.stringify(record.metrics, null, 2));
}
