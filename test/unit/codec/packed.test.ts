import { describe, expect, it } from 'vitest';
import { TensorMap, hostTensor } from '../../../shared/codec/host-tensor';
import { packTensors, packViews, unpackTensors } from '../../../shared/codec/packed';

const tensors = (buffer?: ArrayBuffer): TensorMap => new Map([
  ['a', hostTensor([2, 3], buffer ? new Float32Array(buffer, 8, 6) : Float32Array.from([1, 2, 3, 4, 5, 6]))],
  ['b', hostTensor([1], buffer ? new Float32Array(buffer, 40, 1) : Float32Array.from([7]))],
]);

describe('packed tensors: a set of tensors as one transferable buffer', () => {
  it('round-trips a copied set and a set of views in place, the views without a copy', () => {
    const copied = unpackTensors(packTensors(tensors()));
    expect([...copied.get('a')!.data, ...copied.get('b')!.data]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const frame = new ArrayBuffer(48);
    const views = tensors(frame);
    views.get('a')!.data.set([1, 2, 3, 4, 5, 6]);
    views.get('b')!.data[0] = 7;
    const packed = packViews(views, frame)!;
    expect(packed.buffer).toBe(frame);
    const back = unpackTensors(packed);
    expect(back.get('a')!.shape).toEqual([2, 3]);
    expect([...back.get('a')!.data, ...back.get('b')!.data]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(back.get('b')!.data.buffer).toBe(frame);
  });

  it('packs views only of the buffer named, and refuses offsets that leave the buffer', () => {
    expect(packViews(tensors(), new ArrayBuffer(48))).toBeNull();
    const frame = new ArrayBuffer(48);
    const p = packViews(tensors(frame), frame)!;
    expect(() => unpackTensors({ ...p, offsets: [8, 48] })).toThrow("packed tensor 'b' runs past the end of its buffer");
    expect(() => unpackTensors({ ...p, offsets: [8, 2] })).toThrow("packed tensor 'b' starts at 2, not a 4-byte boundary of its buffer");
    expect(() => unpackTensors({ ...p, offsets: [8] })).toThrow('packed tensors: keys, shapes and offsets differ in number');
  });
});
