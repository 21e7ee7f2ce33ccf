import { describe, expect, it } from 'vitest';
import { tfleet } from '../../../proto/generated/tfleet';
import { hostTensor } from '../../../shared/codec/host-tensor';
import { fromWire, mapFromWire, toWire } from '../../../shared/codec/wire';

describe('tensor wire codec', () => {
  it('round-trips through a protobuf frame as raw little-endian bytes', () => {
    const t = hostTensor([2, 3], Float32Array.from([1, -2, 3.5, 4, 5, 6e-8]));
    const frame = tfleet.ps.PushRequest.encode({ tensors: [toWire('w0', t)] }).finish();
    const decoded = tfleet.ps.PushRequest.decode(frame);
    expect(decoded.tensors[0].data.byteLength).toBe(24);
    const back = fromWire(decoded.tensors[0]);
    expect(back.shape).toEqual([2, 3]);
    expect([...back.data]).toEqual([...t.data]);
  });

  it('copies values that sit at an unaligned offset of the frame', () => {
    const bytes = new Uint8Array(13);
    new Uint8Array(Float32Array.from([1.5, 2.5, -3]).buffer).forEach((b, i) => (bytes[i + 1] = b));
    const view = bytes.subarray(1);
    const t = fromWire({ key: 'k', dtype: tfleet.ps.DType.FLOAT32, shape: [3], data: view });
    expect([...t.data]).toEqual([1.5, 2.5, -3]);
  });

  it('rejects a byte length that does not match the shape, naming the key', () => {
    expect(() => fromWire({ key: 'w1', dtype: tfleet.ps.DType.FLOAT32, shape: [4], data: new Uint8Array(12) }))
      .toThrow("tensor 'w1': shape [4] needs 16 bytes, got 12");
  });

  it('rejects an unsupported dtype, an empty key, and duplicate keys', () => {
    expect(() => fromWire({ key: 'w', dtype: tfleet.ps.DType.DTYPE_UNSPECIFIED, shape: [1], data: new Uint8Array(4) })).toThrow("tensor 'w': dtype 0 is not supported (float32, float64 or int32)");
    expect(() => fromWire({ key: '', dtype: tfleet.ps.DType.FLOAT32, shape: [], data: new Uint8Array(4) })).toThrow('tensor key must have 1..256 characters, got 0');
    const w = toWire('dup', hostTensor([1]));
    expect(() => mapFromWire([w, w])).toThrow("tensor 'dup' appears twice in one message");
  });

  it('refuses row ids on a tensor that does not say it holds rows', () => {
    expect(() => fromWire({ key: 'emb', dtype: tfleet.ps.DType.FLOAT32, shape: [1, 2], data: new Uint8Array(8), rowIds: new Uint8Array(4) }))
      .toThrow("tensor 'emb': row_ids given without 'rows'");
  });
});
