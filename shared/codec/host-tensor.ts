import { ArgumentError } from '../errors';

/**
 * The element types a host tensor may have: float32 (weights, gradients),
 * float64 or int32 (exact sums of integer-valued statistics: counts and
 * quantized histograms; int32 costs half the bytes when the sums fit).
 */
export type HostData = Float32Array | Float64Array | Int32Array;

export type DTypeName = 'float32' | 'float64' | 'int32';

export function dtypeOf(data: HostData): DTypeName {
  return data instanceof Float64Array ? 'float64' : data instanceof Int32Array ? 'int32' : 'float32';
}

/** A zero-filled array of a dtype. */
export function zerosOf(dtype: DTypeName, n: number): HostData {
  return dtype === 'float64' ? new Float64Array(n) : dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
}

/**
 * A tensor held in host memory as a typed array: what families produce and
 * the parameter server stores. float32 by default; float64 for statistics
 * whose sums must be exact (integer-valued histograms and counts).
 */
export interface HostTensor<D extends HostData = Float32Array> {
  readonly shape: readonly number[];
  readonly data: D;
  /**
   * Set when the tensor holds rows of a table (its first dimension): their
   * ids, one per row of `shape[0]`. A push of rows adds into those rows only.
   */
  readonly rowIds?: Uint32Array;
}

/** Named tensors: a family's parameters or one step's statistic. */
export type TensorMap<D extends HostData = Float32Array> = Map<string, HostTensor<D>>;

/** Named tensors of either element type, as the parameter server carries them. */
export type AnyTensorMap = TensorMap<HostData>;

/**
 * The float32 tensors of a map, or an error naming the first that is not.
 *
 * @throws ArgumentError naming the key, e.g. for a float64 tensor where weights are expected.
 */
export function float32Tensors(tensors: AnyTensorMap, what: string): TensorMap {
  for (const [key, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new ArgumentError(`${what}: tensor '${key}' is ${dtypeOf(t.data)}, float32 expected`);
  }
  return tensors as TensorMap;
}

/** A float64 tensor, for exact sums on the parameter server. */
export function hostTensor64(shape: readonly number[], data?: Float64Array): HostTensor<Float64Array> {
  const n = sizeOf(shape);
  if (data && data.length !== n) {
    throw new ArgumentError(`tensor of shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`);
  }
  return { shape: [...shape], data: data ?? new Float64Array(n) };
}

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

/**
 * The rows of a 2-or-more-dimensional tensor that hold a nonzero value, as a
 * row tensor (a sparse push or reply). Rows of all zeros are left out.
 */
export function nonzeroRows<D extends HostData>(t: HostTensor<D>): HostTensor<D> {
  const width = t.shape.length === 0 ? 1 : sizeOf(t.shape.slice(1));
  const rows = t.shape.length === 0 ? 1 : t.shape[0];
  const ids = new Uint32Array(rows);
  const n = markNonzeroRows(t.data, rows, width, ids);
  const data = new (t.data.constructor as { new (n: number): D })(n * width);
  copyRows(t.data, ids, n, width, data);
  return { shape: [n, ...t.shape.slice(1)], data, rowIds: ids.slice(0, n) };
}

// Tight top-level loops: V8 keeps them optimized, where per-row subarrays allocated.

/** Writes into `ids` the rows of `width` values that hold a nonzero one; returns how many. */
export function markNonzeroRows(data: HostData, rows: number, width: number, ids: Uint32Array): number {
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const at = r * width;
    for (let j = 0; j < width; j++) {
      if (data[at + j] !== 0) {
        ids[n++] = r;
        break;
      }
    }
  }
  return n;
}

/** Copies rows `ids[0..n)` of `from` one after another into `to` (which may be of another element type). */
export function copyRows(from: HostData, ids: Uint32Array, n: number, width: number, to: HostData): void {
  for (let i = 0; i < n; i++) {
    const at = ids[i] * width;
    for (let j = 0; j < width; j++) to[i * width + j] = from[at + j];
  }
}

/** Total bytes of the values in a map, for metrics. */
export function byteSize(tensors: AnyTensorMap): number {
  let n = 0;
  for (const t of tensors.values()) n += t.data.byteLength;
  return n;
}
