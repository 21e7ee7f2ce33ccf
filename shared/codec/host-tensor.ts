import { ArgumentError } from '../errors';

/**
 * A tensor held in host memory as a typed array: what families produce and
 * the parameter server stores. float32 only for now; the wire format carries
 * a dtype so that int32 and float64 can follow.
 */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Named tensors: a family's parameters or one step's statistic. */
export type TensorMap = Map<string, HostTensor>;

/** Number of elements of a shape; throws on a negative or fractional dim. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ArgumentError(`invalid tensor dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function hostTensor(shape: readonly number[], data?: Float32Array): HostTensor {
  const n = sizeOf(shape);
  if (data && data.length !== n) {
    throw new ArgumentError(`tensor of shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`);
  }
  return { shape: [...shape], data: data ?? new Float32Array(n) };
}

/** Total bytes of the values in a map, for metrics. */
export function byteSize(tensors: TensorMap): number {
  let n = 0;
  for (const t of tensors.values()) n += t.data.byteLength;
  return n;
}
