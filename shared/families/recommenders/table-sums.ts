import { HostTensor } from '../../codec/host-tensor';
import { PsHandle } from '../../ps/handle';
import { REDUCE_CHUNK_ELEMENTS, reduceLarge } from '../../ps/collectives';

/** Chunks of one table sum in flight at once (as the other collectives). */
const CHUNKS_IN_FLIGHT = 4;

type Values = Float32Array | Float64Array;

/**
 * Sums a row-major table of `rows` × `width` across ranks, where each rank
 * pushes only some rows (`pushIds`, their values in `pushValues`), and
 * returns to this rank only the rows it asks for (`wantIds`, in that
 * order) — a reduce-scatter over the parameter server that moves the rows
 * touched, not the table. Split into keys of at most
 * {@link REDUCE_CHUNK_ELEMENTS} that travel concurrently. Every rank of the
 * job must call it with the same prefix, rows, width and element type.
 *
 * @example
 * // rank 0 gathers every rank's user rows (each rank owns some users):
 * const all = await sumRows(ps, 'users', nUsers, k, myUsers, myRows, rank === 0 ? everyRow : new Uint32Array(0));
 */
export async function sumRows<V extends Values>(ps: PsHandle, prefix: string, rows: number, width: number, pushIds: Uint32Array, pushValues: V, wantIds: Uint32Array): Promise<V> {
  const float64 = pushValues instanceof Float64Array;
  const perChunk = Math.max(1, Math.floor(REDUCE_CHUNK_ELEMENTS / width));
  const chunks = Math.max(1, Math.ceil(rows / perChunk));
  const keys = Array.from({ length: chunks }, (_, c) => `${prefix}/${c}`);
  const first = (c: number) => c * perChunk;
  const size = (c: number) => Math.min(rows, (c + 1) * perChunk) - first(c);
  await ps.create(keys.map((key, c) => ({ key, dtype: float64 ? 'float64' : 'float32', shape: [size(c), width] })), { name: 'sum' });
  const pushed = splitByChunk(pushIds, perChunk, chunks);
  const wanted = splitByChunk(wantIds, perChunk, chunks);
  const out = (float64 ? new Float64Array(wantIds.length * width) : new Float32Array(wantIds.length * width)) as V;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < chunks) {
      const c = next++;
      const mine = pushed[c];
      const values = float64 ? new Float64Array(mine.at.length * width) : new Float32Array(mine.at.length * width);
      for (let j = 0; j < mine.at.length; j++) values.set(pushValues.subarray(mine.at[j] * width, (mine.at[j] + 1) * width), j * width);
      const t: HostTensor<Values> = { shape: [mine.ids.length, width], data: values, rowIds: mine.ids };
      const { tensors } = await ps.pushPull(0, 1, new Map([[keys[c], t]]), { pullRows: wanted[c].ids });
      const reply = tensors.get(keys[c])!.data;
      for (let j = 0; j < wanted[c].at.length; j++) out.set(reply.subarray(j * width, (j + 1) * width), wanted[c].at[j] * width);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, chunks) }, lane));
  await ps.release(keys);
  return out;
}

/** Row ids by chunk, relative to the chunk's first row, with each one's position in the list. */
function splitByChunk(ids: Uint32Array, perChunk: number, chunks: number): { ids: Uint32Array; at: Uint32Array }[] {
  const counts = new Uint32Array(chunks);
  for (const id of ids) counts[Math.floor(id / perChunk)]++;
  const out = Array.from({ length: chunks }, (_, c) => ({ ids: new Uint32Array(counts[c]), at: new Uint32Array(counts[c]) }));
  const fill = new Uint32Array(chunks);
  for (let j = 0; j < ids.length; j++) {
    const c = Math.floor(ids[j] / perChunk);
    out[c].ids[fill[c]] = ids[j] - c * perChunk;
    out[c].at[fill[c]++] = j;
  }
  return out;
}

/** 0, 1, …, n - 1. */
export function allRows(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}

/** Element-wise sum of a float64 array across ranks (every rank gets it). */
export function sumAcross(ps: PsHandle, key: string, values: Float64Array): Promise<Float64Array> {
  return reduceLarge(ps, key, values, { name: 'sum' });
}
