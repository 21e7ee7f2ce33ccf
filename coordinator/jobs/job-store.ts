import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { makeDirs } from '../../shared/atomic-dir';
import { join } from 'node:path';
import { JobRecord, upgradeRecord } from './job-record';

/**
 * Job records kept in memory and written through to `<stateDir>/jobs/<id>.json`
 * (write to a temporary file, then rename, so a crash never leaves half a record).
 */
export class JobStore {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly dir: string;
  private writes: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'jobs');
  }

  /** Loads every record from disk; returns them oldest first. */
  async load(): Promise<JobRecord[]> {
    await makeDirs(this.dir);
    for (const file of await readdir(this.dir)) {
      if (!file.endsWith('.json')) continue;
      const record = upgradeRecord(JSON.parse(await readFile(join(this.dir, file), 'utf8')) as JobRecord);
      this.jobs.set(record.id, record);
    }
    return this.list();
  }

  newId(): string {
    let id: string;
    do id = `job-${randomBytes(4).toString('hex')}`;
    while (this.jobs.has(id));
    return id;
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  /** Every record, oldest first. */
  list(): JobRecord[] {
    return [...this.jobs.values()].sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  /** Stores the record and queues its write; writes happen in order. */
  save(record: JobRecord): Promise<void> {
    this.jobs.set(record.id, record);
    const text = JSON.stringify(record, null, 2);
    const path = join(this.dir, `${record.id}.json`);
    this.writes = this.writes.then(async () => {
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    });
    return this.writes;
  }

  /** Resolves when every queued write has reached the disk. */
  flush(): Promise<void> {
    return this.writes;
  }
}
