import { FileSource } from '../config/job-spec';
import { DataError } from '../errors';
import { readMaybeGzip } from './files';
import { Table, TableReader } from './table';

/** IDX element types (third magic byte): bytes per element and how to read one. */
const IDX_TYPES: Record<number, { name: string; bytes: number; read: (v: DataView, at: number) => number }> = {
  0x08: { name: 'unsigned byte', bytes: 1, read: (v, at) => v.getUint8(at) },
  0x09: { name: 'signed byte', bytes: 1, read: (v, at) => v.getInt8(at) },
  0x0b: { name: 'short', bytes: 2, read: (v, at) => v.getInt16(at, false) },
  0x0c: { name: 'int', bytes: 4, read: (v, at) => v.getInt32(at, false) },
  0x0d: { name: 'float', bytes: 4, read: (v, at) => v.getFloat32(at, false) },
  0x0e: { name: 'double', bytes: 8, read: (v, at) => v.getFloat64(at, false) },
};

/** An IDX array: its shape (first dimension = items) and values as float32. */
export interface IdxArray {
  shape: number[];
  values: Float32Array;
  unsignedBytes: boolean;
}

/**
 * Parses an IDX file (the format of MNIST and Fashion-MNIST): two zero
 * bytes, a type byte, a rank byte, big-endian uint32 dimensions, then the
 * elements big-endian.
 *
 * @throws DataError naming the file and what is wrong with its header or size.
 */
export function parseIdx(buf: Buffer, name: string): IdxArray {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new DataError(`${name}: not an IDX file (it must start with two zero bytes)`);
  const type = IDX_TYPES[buf[2]];
  if (!type) throw new DataError(`${name}: unknown IDX element type 0x${buf[2].toString(16)} (known: ${Object.keys(IDX_TYPES).map((k) => `0x${Number(k).toString(16)}`).join(', ')})`);
  const rank = buf[3];
  if (rank < 1) throw new DataError(`${name}: IDX rank 0 holds no items`);
  const headerBytes = 4 + 4 * rank;
  if (buf.length < headerBytes) throw new DataError(`${name}: truncated IDX header (${buf.length} bytes, rank ${rank} needs ${headerBytes})`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (buf.length !== expected) {
    throw new DataError(`${name}: IDX header says ${shape.join('×')} ${type.name}s (${expected} bytes with the header), the file has ${buf.length} bytes`);
  }
  const values = new Float32Array(count);
  if (type.bytes === 1 && buf[2] === 0x08) values.set(buf.subarray(headerBytes));
  else for (let i = 0; i < count; i++) values[i] = type.read(view, headerBytes + i * type.bytes);
  return { shape, values, unsignedBytes: buf[2] === 0x08 };
}

/**
 * Reads an IDX samples file (images) into a table with labels 0: one row per
 * item, its values flattened and scaled (unsigned bytes to [0, 1] by default).
 * `tfleet predict` reads its input with this too.
 */
export async function readIdxSamples(path: string, scale?: number): Promise<Table> {
  const images = parseIdx(await readMaybeGzip(path), path);
  const rows = images.shape[0];
  const sampleShape = images.shape.slice(1);
  const factor = scale ?? (images.unsignedBytes ? 1 / 255 : 1);
  if (factor !== 1) for (let i = 0; i < images.values.length; i++) images.values[i] *= factor;
  return {
    source: path,
    featureNames: [],
    sampleShape: sampleShape.length ? sampleShape : [1],
    labelName: 'label',
    firstRowLine: null,
    rows,
    cols: sampleShape.reduce((a, b) => a * b, 1),
    x: images.values,
    y: new Float32Array(rows),
  };
}

/**
 * Reads an IDX images file and its labels file into a table.
 *
 * @throws DataError when the files disagree on the number of items.
 */
export async function readIdxPair(source: FileSource): Promise<Table> {
  const [samples, labels] = await Promise.all([
    readIdxSamples(source.images!, typeof source.scale === 'number' ? source.scale : undefined),
    readMaybeGzip(source.labels!).then((buf) => parseIdx(buf, source.labels!)),
  ]);
  if (labels.shape[0] !== samples.rows) throw new DataError(`${source.labels}: ${labels.shape[0]} labels for the ${samples.rows} items of ${source.images}`);
  if (labels.shape.length !== 1) throw new DataError(`${source.labels}: labels must be one value per item, got shape ${labels.shape.join('×')}`);
  return { ...samples, y: labels.values };
}

export const idxReader: TableReader = { format: 'idx', read: readIdxPair };
