import { access, constants } from 'node:fs/promises';
import { tfleet } from '../proto/generated/tfleet';
import { FileSource, isHoldout } from '../shared/config/job-spec';
import { Table } from '../shared/data';
import { DataError } from '../shared/errors';
import { DataInfo } from '../shared/families/types';
import { ValidatedJob, dataInfo, loadJobData } from '../shared/job';

/** This rank's rows of the job's data, and what the family needs to know of the whole. */
export interface Shards {
  train: Table;
  test: Table | null;
  info: DataInfo;
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

/** Rows [begin, end) of a table, as a view. */
function rowRange(t: Table, begin: number, end: number): Table {
  return { ...t, rows: end - begin, x: t.x.subarray(begin * t.cols, end * t.cols), y: t.y.subarray(begin, end) };
}

/** Collects a streamed split into a table. */
async function streamedTable(chunks: AsyncIterable<tfleet.coordinator.IShardChunk>, rows: number, split: string): Promise<{ table: Table; info: DataInfo }> {
  let info: DataInfo | null = null;
  let x = new Float32Array(0);
  const y = new Float32Array(rows);
  let at = 0;
  for await (const chunk of chunks) {
    if (chunk.description) {
      const d = chunk.description;
      const sampleShape = d.sampleShape ?? [];
      info = {
        numFeatures: sampleShape.reduce((a, b) => a * b, 1), featureNames: d.featureNames ?? [], sampleShape, labelName: d.labelName ?? '',
        classes: d.classes && d.classes.length > 0 ? d.classes : null, valueRange: [d.minValue ?? 0, d.maxValue ?? 0],
      };
      x = new Float32Array(rows * info.numFeatures);
    }
    if (!info) throw new DataError(`the coordinator's ${split} shard stream began without a data description`);
    const n = chunk.rows ?? 0;
    const cols = info.numFeatures;
    if (at + n > rows || chunk.x!.byteLength !== 4 * n * cols || chunk.y!.byteLength !== 4 * n) {
      throw new DataError(`the coordinator sent a malformed ${split} shard chunk (${n} rows at row ${at} of ${rows}, ${chunk.x!.byteLength} feature bytes)`);
    }
    // Copies through a byte view: the chunk's bytes need not be 4-byte aligned.
    new Uint8Array(x.buffer, at * cols * 4, n * cols * 4).set(chunk.x!);
    new Uint8Array(y.buffer, at * 4, n * 4).set(chunk.y!);
    at += n;
  }
  if (!info || at !== rows) throw new DataError(`the coordinator's ${split} shard stream ended after ${at} of ${rows} rows`);
  const table: Table = { source: `coordinator (${split})`, featureNames: info.featureNames, sampleShape: info.sampleShape, labelName: info.labelName, firstRowLine: null, rows, cols: info.numFeatures, x, y };
  return { table, info };
}

/**
 * Loads this rank's shards: from the files when the worker can read them
 * (or the spec says 'local'), else streamed from the coordinator, which
 * then is the only host that needs the data.
 *
 * @throws DataError naming the file, line and column, or what went wrong on the stream.
 */
export async function loadShards(job: ValidatedJob, task: tfleet.coordinator.ITask, fetch: FetchShard): Promise<Shards> {
  const { data } = job.spec;
  const sources = [data.train, ...(data.test && !isHoldout(data.test) ? [data.test] : [])];
  const local = data.shards === 'local' || (data.shards === 'auto' && (await readable(sources.flatMap(filesOf))));
  const [trainBegin, trainEnd] = [task.trainBegin ?? 0, task.trainEnd ?? 0];
  const [testBegin, testEnd] = [task.testBegin ?? 0, task.testEnd ?? 0];
  if (local) {
    const all = await loadJobData(job);
    return {
      train: rowRange(all.train, trainBegin, trainEnd),
      test: all.test ? rowRange(all.test, testBegin, testEnd) : null,
      info: dataInfo(all),
      via: 'local',
    };
  }
  const train = await streamedTable(fetch('train', trainBegin, trainEnd), trainEnd - trainBegin, 'train');
  const hasTest = data.test !== undefined;
  const test = hasTest ? (await streamedTable(fetch('test', testBegin, testEnd), testEnd - testBegin, 'test')).table : null;
  return { train: train.table, test, info: train.info, via: 'coordinator' };
}
