import { tfleet } from '../../proto/generated/tfleet';
import { Dataset } from '../../shared/data';
import { ArgumentError } from '../../shared/errors';
import { dataInfo } from '../../shared/job';

/** Bytes of features per streamed chunk: small enough for any message limit, large enough to keep the stream busy. */
export const SHARD_CHUNK_BYTES = 4 * 1024 * 1024;

/** Little-endian float32 bytes of a Float32Array view, without copying on little-endian hosts. */
function bytesOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** A job's data set with its description, which every shard stream starts with. */
export interface ServedData {
  data: Dataset;
  description: tfleet.coordinator.IDataDescription;
}

function describe(data: Dataset): tfleet.coordinator.IDataDescription {
  const info = dataInfo(data);
  return {
    featureNames: [...info.featureNames], sampleShape: [...info.sampleShape], labelName: info.labelName,
    classes: info.classes ?? [], minValue: info.valueRange[0], maxValue: info.valueRange[1],
  };
}

/**
 * Serves shards of running jobs' data to workers that cannot read the
 * files: each job's data set is loaded and described once (on the first
 * request) and dropped when the job ends.
 */
export class ShardSource {
  private readonly datasets = new Map<string, Promise<ServedData>>();

  /** The job's data set, loading it with `load` on first use. */
  dataset(jobId: string, load: () => Promise<Dataset>): Promise<ServedData> {
    let data = this.datasets.get(jobId);
    if (!data) {
      data = load().then((d) => ({ data: d, description: describe(d) }));
      this.datasets.set(jobId, data);
      // A failed load is not cached: the next request tries again.
      data.catch(() => this.datasets.delete(jobId));
    }
    return data;
  }

  drop(jobId: string): void {
    this.datasets.delete(jobId);
  }

  /**
   * Rows [begin, end) of a split as chunks; the first carries the data set's description.
   *
   * @throws ArgumentError for an unknown split or a range outside it.
   */
  static *chunks({ data, description }: ServedData, split: string, begin: number, end: number): Generator<tfleet.coordinator.IShardChunk> {
    const table = split === 'train' ? data.train : split === 'test' ? data.test : undefined;
    if (table === undefined) throw new ArgumentError(`split must be 'train' or 'test', got '${split}'`);
    if (table === null) throw new ArgumentError("the job has no 'test' split");
    if (!(begin <= end && end <= table.rows)) throw new ArgumentError(`rows [${begin}, ${end}) are outside the ${split} split's ${table.rows} rows`);
    const rowsPerChunk = Math.max(1, Math.floor(SHARD_CHUNK_BYTES / (4 * Math.max(1, table.cols))));
    let first = true;
    for (let from = begin; from < end || first;) {
      let to = Math.min(end, from + rowsPerChunk);
      // Text rows: a chunk also stops when its texts reach the chunk's bytes.
      if (table.texts) {
        let bytes = 0;
        for (let r = from; r < to; r++) {
          bytes += 3 * table.texts[r].length;
          if (bytes > SHARD_CHUNK_BYTES && r > from) { to = r; break; }
        }
      }
      yield {
        description: first ? description : null,
        rows: to - from,
        x: bytesOf(table.x.subarray(from * table.cols, to * table.cols)),
        y: bytesOf(table.y.subarray(from, to)),
        texts: table.texts ? table.texts.slice(from, to) : [],
      };
      from = to;
      first = false;
    }
  }
}
