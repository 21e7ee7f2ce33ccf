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

/** Views of a packed set, without copying. @throws ArgumentError when the shapes do not fill the buffer. */
export function unpackTensors(p: PackedTensors): TensorMap {
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
