import { describe, expect, it } from 'vitest';
import { addInto32, overwrite32 } from '../../../coordinator/ps/parameter-store';
import { nativeLoops } from '../../../coordinator/ps/native-loops';
import { adamStep, momentumStep, sgdStep } from '../../../coordinator/ps/update-rules';
import { nativeAddon } from '../../harness/backends';
import { random } from '../../harness/kernels';

describe.skipIf(!nativeAddon.ok)('the parameter server\'s native loops', () => {
  it('are loaded where the addon is built', () => {
    expect(nativeLoops).not.toBeNull();
  });

  it('take Adam steps bit for bit as the JavaScript loop does', () => {
    const n = 100_003;
    const js = { value: random(n, 1), m: new Float64Array(n), v: new Float64Array(n) };
    const native = { value: js.value.slice(), m: new Float64Array(n), v: new Float64Array(n) };
    for (let t = 1; t <= 5; t++) {
      const sum = Float64Array.from(random(n, 10 + t), (g) => g * 3);
      const [c1, c2] = [1 - 0.9 ** t, 1 - 0.999 ** t];
      adamStep(js.value, sum, 0.5, js.m, js.v, 0.001, 0.9, 0.999, 1e-7, c1, c2);
      nativeLoops!.adamStep(native.value, sum, native.m, native.v, new Float64Array([0.5, 0.001, 0.9, 0.999, 1e-7, c1, c2]));
    }
    expect(Buffer.from(native.value.buffer).equals(Buffer.from(js.value.buffer))).toBe(true);
    expect(Buffer.from(native.m.buffer).equals(Buffer.from(js.m.buffer))).toBe(true);
    expect(Buffer.from(native.v.buffer).equals(Buffer.from(js.v.buffer))).toBe(true);
  });

  it('take SGD and momentum steps bit for bit as the JavaScript loops do', () => {
    const n = 70_001;
    const js = { value: random(n, 5), accum: new Float64Array(n) };
    const native = { value: js.value.slice(), accum: new Float64Array(n) };
    const plain = { js: random(n, 6), native: new Float32Array(0) };
    plain.native = plain.js.slice();
    for (let t = 1; t <= 4; t++) {
      const sum = Float64Array.from(random(n, 20 + t), (g) => g * 7);
      momentumStep(js.value, sum, 0.25, js.accum, 0.01, 0.9);
      nativeLoops!.sgdStep(native.value, sum, native.accum, new Float64Array([0.25, 0.01, 0.9]));
      sgdStep(plain.js, sum, 0.25, 0.03);
      nativeLoops!.sgdStep(plain.native, sum, null, new Float64Array([0.25, 0.03, 0]));
    }
    expect(Buffer.from(native.value.buffer).equals(Buffer.from(js.value.buffer))).toBe(true);
    expect(Buffer.from(native.accum.buffer).equals(Buffer.from(js.accum.buffer))).toBe(true);
    expect(Buffer.from(plain.native.buffer).equals(Buffer.from(plain.js.buffer))).toBe(true);
    expect(() => nativeLoops!.sgdStep(plain.native, new Float64Array(3), null, new Float64Array(3))).toThrow(/different lengths/);
  });

  it('sum a push as the JavaScript loop does, and report a value that is not finite', () => {
    const n = 4097;
    const data = random(n, 3);
    const [js, native] = [Float64Array.from(random(n, 4)), Float64Array.from(random(n, 4))];
    expect(nativeLoops!.addInto32(native, data)).toBe(addInto32(js, data));
    expect(Buffer.from(native.buffer).equals(Buffer.from(js.buffer))).toBe(true);
    data[77] = Infinity;
    expect(nativeLoops!.addInto32(native, data)).toBeNaN();
    expect(() => nativeLoops!.addInto32(native, data.subarray(1))).toThrow(/different lengths/);
    data[77] = 0.5;
    expect(nativeLoops!.overwrite32(native, data)).toBe(overwrite32(js, data));
    expect(Buffer.from(native.buffer).equals(Buffer.from(js.buffer))).toBe(true);
    data[5] = NaN;
    expect(nativeLoops!.overwrite32(native, data)).toBeNaN();
    expect(() => nativeLoops!.overwrite32(native, data.subarray(1))).toThrow(/different lengths/);
    expect(() => nativeLoops!.adamStep(data, native, native, native.subarray(1), new Float64Array(7))).toThrow(/different lengths/);
  });
});
