import { HostData, HostTensor, copyRows, dtypeOf, markNonzeroRows } from '../codec/host-tensor';
import { PsHandle } from './handle';
import { UpdateRuleSpec } from './rules';

/** Elements per key when a large reduction is split: 4 MiB of float64, well inside a message. */
export const REDUCE_CHUNK_ELEMENTS = 512 * 1024;

/**
 * Chunks of one reduction in flight at once. Unbounded, a 500 MB level queued
 * so much on the connection that heartbeats to the coordinator waited past
 * the lease.
 */
export const CHUNKS_IN_FLIGHT = 4;

/** Runs `work(i)` for i < n with at most `limit` running at once. */
async function forEachLimited(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane));
}

/**
 * Reduces one tensor across every rank through a key used once (an
 * allreduce over the parameter server): create at zero, fused push-pull,
 * release. Every rank gets the same values. Use a float64 tensor with
 * 'sum' when the sum must not depend on the order of the ranks
 * (integer-valued counts and quantized statistics).
 *
 * @example
 * const total = await reduceOnce(ps, 'rows', hostTensor64([1], Float64Array.of(rows)), { name: 'sum' });
 */
export async function reduceOnce<D extends HostData>(ps: PsHandle, key: string, t: HostTensor<D>, rule: UpdateRuleSpec, weight = 1): Promise<D> {
  await ps.create([{ key, dtype: dtypeOf(t.data), shape: t.shape }], rule);
  const { tensors } = await ps.pushPull(0, weight, new Map([[key, t]]));
  await ps.release([key]);
  return tensors.get(key)!.data as D;
}

/**
 * {@link reduceOnce} for a flat array of any length: split into keys of at
 * most {@link REDUCE_CHUNK_ELEMENTS} (`<prefix>/0`, `<prefix>/1`, …) that
 * travel concurrently, so no message outgrows the transport's limit.
 * Returns a new array of the reduced values.
 */
export async function reduceLarge<D extends Float64Array | Int32Array>(ps: PsHandle, prefix: string, data: D, rule: UpdateRuleSpec): Promise<D> {
  const chunks = Math.max(1, Math.ceil(data.length / REDUCE_CHUNK_ELEMENTS));
  const keys = Array.from({ length: chunks }, (_, i) => `${prefix}/${i}`);
  const span = (i: number): [number, number] => [i * REDUCE_CHUNK_ELEMENTS, Math.min(data.length, (i + 1) * REDUCE_CHUNK_ELEMENTS)];
  await ps.create(keys.map((key, i) => ({ key, dtype: dtypeOf(data), shape: [span(i)[1] - span(i)[0]] })), rule);
  const out = new (data.constructor as { new (n: number): D })(data.length);
  await forEachLimited(keys.length, CHUNKS_IN_FLIGHT, async (i) => {
    const [from, to] = span(i);
    const { tensors } = await ps.pushPull(0, 1, new Map([[keys[i], { shape: [to - from], data: data.subarray(from, to) }]]));
    out.set(tensors.get(keys[i])!.data as D, from);
  });
  await ps.release(keys);
  return out;
}

/**
 * Puts a flat array of any length for one other rank to take with
 * {@link takeLarge}: a manifest key `<prefix>/n` and chunk keys, created
 * with their values (the parameter server as a key-value store).
 */
export async function putLarge(ps: PsHandle, prefix: string, data: Float64Array): Promise<string[]> {
  const chunks = Math.ceil(data.length / REDUCE_CHUNK_ELEMENTS);
  const tensors = new Map<string, HostTensor<Float64Array>>([[`${prefix}/n`, { shape: [2], data: Float64Array.of(data.length, chunks) }]]);
  for (let i = 0; i < chunks; i++) {
    const part = data.subarray(i * REDUCE_CHUNK_ELEMENTS, Math.min(data.length, (i + 1) * REDUCE_CHUNK_ELEMENTS));
    tensors.set(`${prefix}/c${i}`, { shape: [part.length], data: part });
  }
  // One init per chunk keeps each message within the transport's limit.
  await Promise.all([...tensors].map(([key, t]) => ps.init(new Map([[key, t]]), { name: 'sum' })));
  return [...tensors.keys()];
}

/**
 * Waits for what another rank {@link putLarge}-d under `prefix` and returns
 * it with its keys, which every member then releases (several readers).
 */
export async function getLarge(ps: PsHandle, prefix: string): Promise<{ data: Float64Array; keys: string[] }> {
  const manifest = `${prefix}/n`;
  const { tensors } = await ps.pull([manifest], 0);
  const [length, chunks] = tensors.get(manifest)!.data;
  const data = new Float64Array(length);
  const keys = Array.from({ length: chunks }, (_, i) => `${prefix}/c${i}`);
  await Promise.all(keys.map(async (key, i) => {
    const { tensors: part } = await ps.pull([key], 0);
    data.set(part.get(key)!.data, i * REDUCE_CHUNK_ELEMENTS);
  }));
  return { data, keys: [manifest, ...keys] };
}

/** {@link getLarge} for the only reader: the keys are dropped at once. */
export async function takeLarge(ps: PsHandle, prefix: string): Promise<Float64Array> {
  const { data, keys } = await getLarge(ps, prefix);
  await ps.release(keys, { drop: true });
  return data;
}

/**
 * {@link reduceLarge} for sparse statistics laid out as rows of `width`
 * values (a histogram's cells): only the rows holding a nonzero value travel,
 * each way, addressed by id. Deep tree nodes' histograms are mostly zeros
 * (84% of the cells at depth 5 on Fashion-MNIST), so this sends a fraction
 * of the bytes. The values travel as int32 when `int32` says every sum fits
 * (integers), else as float64; the sums, times `scale`, are written into
 * `out` (a new array when none is given), whose other cells become zero.
 */
export async function reduceSparse(ps: PsHandle, prefix: string, data: Float64Array, width: number, options: { int32?: boolean; scale?: number; out?: Float64Array } = {}): Promise<Float64Array> {
  const int32 = options.int32 ?? false;
  const scale = options.scale ?? 1;
  const rows = data.length / width;
  const perChunk = Math.max(1, Math.floor(REDUCE_CHUNK_ELEMENTS / width));
  const chunks = Math.max(1, Math.ceil(rows / perChunk));
  const keys = Array.from({ length: chunks }, (_, i) => `${prefix}/${i}`);
  const span = (i: number): [number, number] => [i * perChunk, Math.min(rows, (i + 1) * perChunk)];
  await ps.create(keys.map((key, i) => ({ key, dtype: int32 ? 'int32' : 'float64', shape: [span(i)[1] - span(i)[0], width] })), { name: 'sum' });
  const out = options.out ?? new Float64Array(data.length);
  out.fill(0, 0, data.length);
  await forEachLimited(keys.length, CHUNKS_IN_FLIGHT, async (i) => {
    const [from, to] = span(i);
    const mine = sparseRows(data.subarray(from * width, to * width), to - from, width, int32);
    const { tensors } = await ps.pushPull(0, 1, new Map([[keys[i], mine]]), { sparseReply: true });
    const reply = tensors.get(keys[i])!;
    if (reply.data instanceof Int32Array) writeRows32(reply.data, reply.rowIds!, width, scale, out, from * width);
    else writeRows64(reply.data as Float64Array, reply.rowIds!, width, scale, out, from * width);
  });
  await ps.release(keys);
  return out;
}

// One loop per element type keeps each monomorphic (a union-typed loop ran several times slower).
function writeRows32(rows: Int32Array, ids: Uint32Array, width: number, scale: number, out: Float64Array, at: number): void {
  for (let i = 0; i < ids.length; i++) {
    const o = at + ids[i] * width;
    for (let j = 0; j < width; j++) out[o + j] = rows[i * width + j] * scale;
  }
}

function writeRows64(rows: Float64Array, ids: Uint32Array, width: number, scale: number, out: Float64Array, at: number): void {
  for (let i = 0; i < ids.length; i++) {
    const o = at + ids[i] * width;
    for (let j = 0; j < width; j++) out[o + j] = rows[i * width + j] * scale;
  }
}

/** The rows of `data` that hold a value, as a row tensor of int32 or float64 values (one pass to find them, one to copy). */
function sparseRows(data: Float64Array, rows: number, width: number, int32: boolean): HostTensor<Float64Array | Int32Array> {
  const ids = new Uint32Array(rows);
  const n = markNonzeroRows(data, rows, width, ids);
  const values = int32 ? new Int32Array(n * width) : new Float64Array(n * width);
  copyRows(data, ids, n, width, values);
  return { shape: [n, width], data: values, rowIds: ids.slice(0, n) };
}

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
export async function sumRows<V extends Float32Array | Float64Array>(ps: PsHandle, prefix: string, rows: number, width: number, pushIds: Uint32Array, pushValues: V, wantIds: Uint32Array): Promise<V> {
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
  await forEachLimited(chunks, CHUNKS_IN_FLIGHT, async (c) => {
    const mine = pushed[c];
    const values = float64 ? new Float64Array(mine.at.length * width) : new Float32Array(mine.at.length * width);
    for (let j = 0; j < mine.at.length; j++) values.set(pushValues.subarray(mine.at[j] * width, (mine.at[j] + 1) * width), j * width);
    const t: HostTensor<Float32Array | Float64Array> = { shape: [mine.ids.length, width], data: values, rowIds: mine.ids };
    const { tensors } = await ps.pushPull(0, 1, new Map([[keys[c], t]]), { pullRows: wanted[c].ids });
    const reply = tensors.get(keys[c])!.data;
    for (let j = 0; j < wanted[c].at.length; j++) out.set(reply.subarray(j * width, (j + 1) * width), wanted[c].at[j] * width);
  });
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
