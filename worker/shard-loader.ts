import { access, constants } from 'node:fs/promises';
import { tfleet } from '../proto/generated/tfleet';
import { FileSource, isHoldout } from '../shared/config/job-spec';
import { Dataset, Table, loadDataset } from '../shared/data';
import { DataError } from '../shared/errors';
import { ValidatedJob, ratingsGrouping, taskOfData } from '../shared/job';
import { TaskPlan } from '../shared/program/task-plan';

/** This rank's rows of the job's data. */
export interface Shards {
  train: Table;
  test: Table | null;
  /** Where the rows came from: the worker's own disk or the coordinator's stream. */
  via: 'local' | 'coordinator';
}

/** Streams one split's rows [begin, end) (see the coordinator's FetchShard). */
export type FetchShard = (split: 'train' | 'test', begin: number, end: number) => AsyncIterable<tfleet.coordinator.IShardChunk>;

function filesOf(source: FileSource): string[] {
  return [source.path, source.images, source.labels].filter((p): p is string => p !== undefined);
}

async function readable(paths: string[]): Promise<boolean> {
  try {
    await Promise.all(paths.map((p) => access(p, constants.R_OK)));
    return true;
  } catch {
    return false;
  }
}

/** Rows [begin, end) of a table, copied: programs standardize their shards in place, and the loaded data is kept for the next attempt. */
function rowRange(t: Table, begin: number, end: number): Table {
  return { ...t, rows: end - begin, x: t.x.slice(begin * t.cols, end * t.cols), y: t.y.slice(begin, end), ...(t.texts ? { texts: t.texts.slice(begin, end) } : {}) };
}

/**
 * The job data this worker read last, by job: a job's next attempt (after a
 * member was lost, or one joined) takes its new rows from it instead of
 * parsing the files again, which took most of an attempt's start-up.
 */
let cached: { jobId: string; data: Promise<Dataset> } | null = null;

/** Drops the kept job data (its job is over). */
export function forgetJobData(): void {
  cached = null;
}

/** Collects a streamed split into a table of the plan's data description. */
async function streamedTable(chunks: AsyncIterable<tfleet.coordinator.IShardChunk>, rows: number, split: string, plan: TaskPlan): Promise<Table> {
  const { info } = plan;
  const cols = info.numFeatures;
  const x = new Float32Array(rows * cols);
  const y = new Float32Array(rows);
  const texts: string[] | undefined = info.text ? [] : undefined;
  let at = 0;
  for await (const chunk of chunks) {
    const n = chunk.rows ?? 0;
    if (at + n > rows || chunk.x!.byteLength !== 4 * n * cols || chunk.y!.byteLength !== 4 * n) {
      throw new DataError(`the coordinator sent a malformed ${split} shard chunk (${n} rows at row ${at} of ${rows}, ${chunk.x!.byteLength} feature bytes)`);
    }
    // Copies through a byte view: the chunk's bytes need not be 4-byte aligned.
    new Uint8Array(x.buffer, at * cols * 4, n * cols * 4).set(chunk.x!);
    new Uint8Array(y.buffer, at * 4, n * 4).set(chunk.y!);
    if (texts) {
      if ((chunk.texts ?? []).length !== n) throw new DataError(`the coordinator sent a ${split} shard chunk of ${n} rows with ${(chunk.texts ?? []).length} texts`);
      texts.push(...chunk.texts!);
    }
    at += n;
  }
  if (at !== rows) throw new DataError(`the coordinator's ${split} shard stream ended after ${at} of ${rows} rows`);
  return { source: `coordinator (${split})`, featureNames: info.featureNames, sampleShape: info.sampleShape, labelName: info.labelName, firstRowLine: null, rows, cols, x, y, ...(texts ? { texts } : {}) };
}

/**
 * Loads this rank's shards: from the files when the worker can read them
 * (or the spec says 'local'), else streamed from the coordinator, which
 * then is the only host that needs the data.
 *
 * @throws DataError naming the file, line and column, or what went wrong on the stream.
 */
export async function loadShards(job: ValidatedJob, plan: TaskPlan, fetch: FetchShard): Promise<Shards> {
  const { data } = job.spec;
  const sources = [data.train, ...(data.test && !isHoldout(data.test) ? [data.test] : [])];
  const local = data.shards === 'local' || (data.shards === 'auto' && (await readable(sources.flatMap(filesOf))));
  const { train, test } = plan;
  if (local) {
    // The coordinator checked this data at submit; the plan carries what it learnt of it.
    if (cached?.jobId !== plan.jobId) {
      const data = loadDataset(job.spec, (labels) => taskOfData(job, labels), ratingsGrouping(job));
      cached = { jobId: plan.jobId, data };
      data.catch(() => { if (cached?.data === data) cached = null; });
    }
    const all = await cached.data;
    if (all.train.rows !== plan.trainShardRows.reduce((a, b) => a + b, 0)) {
      throw new DataError(`${all.train.source}: ${all.train.rows} training rows here; the coordinator planned ${plan.trainShardRows.reduce((a, b) => a + b, 0)} (is the file the same on every host?)`);
    }
    return {
      train: rowRange(all.train, train.begin, train.end),
      test: all.test ? rowRange(all.test, test.begin, test.end) : null,
      via: 'local',
    };
  }
  const trainTable = await streamedTable(fetch('train', train.begin, train.end), train.end - train.begin, 'train', plan);
  const hasTest = data.test !== undefined;
  const testTable = hasTest ? await streamedTable(fetch('test', test.begin, test.end), test.end - test.begin, 'test', plan) : null;
  return { train: trainTable, test: testTable, via: 'coordinator' };
}
