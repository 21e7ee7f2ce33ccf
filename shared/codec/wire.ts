import { tfleet } from '../../proto/generated/tfleet';
import { ArgumentError } from '../errors';
import { AnyTensorMap, DTypeName, HostData, HostTensor, dtypeOf, sizeOf, zerosOf } from './host-tensor';

const { DType } = tfleet.ps;

/** Longest key accepted on the wire. */
export const MAX_KEY_LENGTH = 256;
/** Most dimensions a tensor may have. */
export const MAX_RANK = 8;

const WIRE_DTYPE: Record<DTypeName, tfleet.ps.DType> = { float32: DType.FLOAT32, float64: DType.FLOAT64, int32: DType.INT32 };

/** The dtype of a wire tensor. @throws ArgumentError naming the key for an unknown one. */
function dtypeFromWire(w: tfleet.ps.ITensor, key: string): DTypeName {
  switch (w.dtype) {
    case DType.FLOAT32: return 'float32';
    case DType.FLOAT64: return 'float64';
    case DType.INT32: return 'int32';
    default: throw new ArgumentError(`tensor '${key}': dtype ${w.dtype} is not supported (float32, float64 or int32)`);
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes a host tensor for the wire without copying its values: the bytes
 * field is a view of the typed array (protobufjs copies once into the frame).
 */
export function toWire(key: string, t: HostTensor<HostData>): tfleet.ps.ITensor {
  if (!littleEndian) throw new ArgumentError('big-endian hosts are not supported by the tensor codec');
  return {
    key,
    dtype: WIRE_DTYPE[dtypeOf(t.data)],
    shape: [...t.shape],
    data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    ...(t.rowIds ? { rows: true, rowIds: new Uint8Array(t.rowIds.buffer, t.rowIds.byteOffset, t.rowIds.byteLength) } : {}),
  };
}

/** Row ids as raw little-endian uint32 bytes (a view, no copy). */
export function rowIdsToWire(ids: Uint32Array): Uint8Array {
  return new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
}

/**
 * Row ids from raw little-endian uint32 bytes: a view when aligned, else a copy.
 * @throws ArgumentError naming `what` when the bytes are not whole ids.
 */
export function rowIdsFromWire(bytes: Uint8Array, what: string): Uint32Array {
  if (bytes.byteLength % 4 !== 0) throw new ArgumentError(`${what}: row_ids holds ${bytes.byteLength} bytes, not a whole number of uint32 ids`);
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Uint32Array(new Uint8Array(bytes).buffer); // a copy: Buffer.slice would be a view
}

export function mapToWire(tensors: AnyTensorMap): tfleet.ps.ITensor[] {
  return [...tensors].map(([k, t]) => toWire(k, t));
}

/**
 * Decodes and validates a wire tensor. A decoded `bytes` field is a view into
 * a larger frame buffer, so the values are viewed in place only when aligned,
 * and copied otherwise.
 *
 * @throws ArgumentError naming the key when dtype, shape or length is wrong.
 */
export function fromWire(w: tfleet.ps.ITensor): HostTensor<HostData> {
  const key = w.key ?? '';
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new ArgumentError(`tensor key must have 1..${MAX_KEY_LENGTH} characters, got ${key.length}`);
  }
  const dtype = dtypeFromWire(w, key);
  const width = dtype === 'float64' ? 8 : 4;
  const shape = w.shape ?? [];
  const idBytes = w.rowIds ?? new Uint8Array(0);
  if (!w.rows && idBytes.byteLength > 0) throw new ArgumentError(`tensor '${key}': row_ids given without 'rows'`);
  const ids = rowIdsFromWire(idBytes, `tensor '${key}'`);
  if (w.rows && (shape.length === 0 || shape[0] !== ids.length)) {
    throw new ArgumentError(`tensor '${key}': ${ids.length} row ids for a shape of [${shape.join(', ')}] (its first dimension counts the rows)`);
  }
  if (shape.length > MAX_RANK) throw new ArgumentError(`tensor '${key}': rank ${shape.length} exceeds ${MAX_RANK}`);
  const n = sizeOf(shape);
  const bytes = w.data ?? new Uint8Array(0);
  if (bytes.byteLength !== n * width) {
    throw new ArgumentError(`tensor '${key}': shape [${shape.join(', ')}] needs ${n * width} bytes, got ${bytes.byteLength}`);
  }
  let data: HostData;
  if (bytes.byteOffset % width === 0) {
    data = dtype === 'float64' ? new Float64Array(bytes.buffer, bytes.byteOffset, n)
      : dtype === 'int32' ? new Int32Array(bytes.buffer, bytes.byteOffset, n) : new Float32Array(bytes.buffer, bytes.byteOffset, n);
  } else {
    data = zerosOf(dtype, n);
    new Uint8Array(data.buffer).set(bytes);
  }
  return w.rows ? { shape: [...shape], data, rowIds: ids } : { shape: [...shape], data };
}

/** Most elements a zero-valued init may create in one request (256 Mi): bounds what a few bytes can allocate. */
export const MAX_TENSOR_ELEMENTS = 256 * 1024 * 1024;

/**
 * Zero-valued tensors of the keys, dtypes and shapes of wire tensors that
 * carry no data (an Init with `zeros`).
 *
 * @throws ArgumentError naming the key when it carries data, or its shape is too large.
 */
export function zerosFromWire(ws: readonly tfleet.ps.ITensor[] | null | undefined): AnyTensorMap {
  return new Map(shapesFromWire(ws).map((s) => [s.key, { shape: [...s.shape], data: zerosOf(s.dtype, sizeOf(s.shape)) }]));
}

/**
 * Keys, dtypes and shapes of wire tensors that carry no data (an Init with
 * `zeros`, or of row tables).
 *
 * @throws ArgumentError naming the key when it carries data, or the shapes are too large.
 */
export function shapesFromWire(ws: readonly tfleet.ps.ITensor[] | null | undefined): KeyShape[] {
  const out: KeyShape[] = [];
  const seen = new Set<string>();
  // A few bytes of shape may ask for gigabytes: the whole request shares one bound.
  let total = 0;
  for (const w of ws ?? []) {
    const key = w.key ?? '';
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new ArgumentError(`tensor key must have 1..${MAX_KEY_LENGTH} characters, got ${key.length}`);
    if ((w.data?.byteLength ?? 0) > 0) throw new ArgumentError(`tensor '${key}': a zero-valued init carries no data`);
    const dtype = dtypeFromWire(w, key);
    const shape = w.shape ?? [];
    if (shape.length > MAX_RANK) throw new ArgumentError(`tensor '${key}': rank ${shape.length} exceeds ${MAX_RANK}`);
    total += sizeOf(shape);
    if (total > MAX_TENSOR_ELEMENTS) throw new ArgumentError(`tensor '${key}': a zero-valued init of ${total} elements in all exceeds the limit of ${MAX_TENSOR_ELEMENTS}`);
    if (w.rows || (w.rowIds?.byteLength ?? 0) > 0) throw new ArgumentError(`tensor '${key}': a zero-valued init is of whole tensors, not rows`);
    if (seen.has(key)) throw new ArgumentError(`tensor '${key}' appears twice in one message`);
    seen.add(key);
    out.push({ key, dtype, shape: [...shape] });
  }
  return out;
}

/** Key, dtype and shape of tensors without their data, for an Init with `zeros`. */
export function shapesToWire(shapes: readonly KeyShape[]): tfleet.ps.ITensor[] {
  return shapes.map((s) => ({ key: s.key, dtype: WIRE_DTYPE[s.dtype], shape: [...s.shape] }));
}

/** A key to create at zero: its name, element type and shape. */
export interface KeyShape {
  key: string;
  dtype: DTypeName;
  shape: readonly number[];
}

export function mapFromWire(ws: readonly tfleet.ps.ITensor[] | null | undefined): AnyTensorMap {
  const out: AnyTensorMap = new Map();
  for (const w of ws ?? []) {
    const t = fromWire(w);
    if (out.has(w.key!)) throw new ArgumentError(`tensor '${w.key}' appears twice in one message`);
    out.set(w.key!, t);
  }
  return out;
}
