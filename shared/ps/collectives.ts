import { HostData, HostTensor } from '../codec/host-tensor';
import { KeyShape } from '../codec/wire';
import { PsHandle } from './handle';
import { UpdateRuleSpec } from './rules';

/** Elements per key when a large reduction is split: 4 MiB of float64, well inside a message. */
export const REDUCE_CHUNK_ELEMENTS = 512 * 1024;

function dtypeOf(data: HostData): KeyShape['dtype'] {
  return data instanceof Float64Array ? 'float64' : 'float32';
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
export async function reduceLarge(ps: PsHandle, prefix: string, data: Float64Array, rule: UpdateRuleSpec): Promise<Float64Array> {
  const chunks = Math.max(1, Math.ceil(data.length / REDUCE_CHUNK_ELEMENTS));
  const keys = Array.from({ length: chunks }, (_, i) => `${prefix}/${i}`);
  const span = (i: number): [number, number] => [i * REDUCE_CHUNK_ELEMENTS, Math.min(data.length, (i + 1) * REDUCE_CHUNK_ELEMENTS)];
  await ps.create(keys.map((key, i) => ({ key, dtype: 'float64', shape: [span(i)[1] - span(i)[0]] })), rule);
  const out = new Float64Array(data.length);
  await Promise.all(keys.map(async (key, i) => {
    const [from, to] = span(i);
    const { tensors } = await ps.pushPull(0, 1, new Map([[key, { shape: [to - from], data: data.subarray(from, to) }]]));
    out.set(tensors.get(key)!.data, from);
  }));
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
