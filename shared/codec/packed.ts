import { ArgumentError } from '../errors';
import { TensorMap, sizeOf } from './host-tensor';

/**
 * Named tensors flattened into one buffer, so a whole set crosses a thread
 * boundary as a single transfer (PyTorch DDP flattens a bucket the same way).
 */
export interface PackedTensors {
  keys: string[];
  shapes: number[][];
  buffer: ArrayBuffer;
  /** Where each tensor's values start, in bytes; absent: one after another from 0, filling the buffer. */
  offsets?: number[];
}

/** Copies the tensors, in map order, into one new buffer. */
export function packTensors(tensors: TensorMap): PackedTensors {
  let total = 0;
  for (const t of tensors.values()) total += t.data.length;
  const flat = new Float32Array(total);
  const keys: string[] = [];
  const shapes: number[][] = [];
  let at = 0;
  for (const [key, t] of tensors) {
    flat.set(t.data, at);
    at += t.data.length;
    keys.push(key);
    shapes.push([...t.shape]);
  }
  return { keys, shapes, buffer: flat.buffer };
}

/**
 * Tensors that are views of one buffer (a received message's), described
 * in place so the buffer crosses a thread boundary as it is, without the
 * copy {@link packTensors} makes; null when one of them is not such a view.
 * The buffer must be the views' own, not a pool's: a transfer detaches it.
 */
export function packViews(tensors: TensorMap, buffer: ArrayBuffer): PackedTensors | null {
  const keys: string[] = [];
  const shapes: number[][] = [];
  const offsets: number[] = [];
  for (const [key, t] of tensors) {
    if (t.data.buffer !== buffer) return null;
    keys.push(key);
    shapes.push([...t.shape]);
    offsets.push(t.data.byteOffset);
  }
  return { keys, shapes, buffer, offsets };
}

/** Views of a packed set, without copying. @throws ArgumentError when the shapes do not fill the buffer, or a tensor runs past it. */
export function unpackTensors(p: PackedTensors): TensorMap {
  if (p.offsets) return unpackViews(p, p.offsets);
  const out: TensorMap = new Map();
  let at = 0;
  p.keys.forEach((key, i) => {
    const n = sizeOf(p.shapes[i]);
    if ((at + n) * 4 > p.buffer.byteLength) throw new ArgumentError(`packed tensor '${key}' runs past the end of its buffer`);
    out.set(key, { shape: p.shapes[i], data: new Float32Array(p.buffer, at * 4, n) });
    at += n;
  });
  if (at * 4 !== p.buffer.byteLength) throw new ArgumentError(`packed tensors fill ${at * 4} of ${p.buffer.byteLength} bytes`);
  return out;
}

function unpackViews(p: PackedTensors, offsets: number[]): TensorMap {
  if (offsets.length !== p.keys.length || p.shapes.length !== p.keys.length) throw new ArgumentError('packed tensors: keys, shapes and offsets differ in number');
  const out: TensorMap = new Map();
  p.keys.forEach((key, i) => {
    const n = sizeOf(p.shapes[i]);
    const at = offsets[i];
    if (!Number.isInteger(at) || at < 0 || at % 4 !== 0) throw new ArgumentError(`packed tensor '${key}' starts at ${at}, not a 4-byte boundary of its buffer`);
    if (at + n * 4 > p.buffer.byteLength) throw new ArgumentError(`packed tensor '${key}' runs past the end of its buffer`);
    out.set(key, { shape: p.shapes[i], data: new Float32Array(p.buffer, at, n) });
  });
  return out;
}
