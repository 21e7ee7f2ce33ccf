import { describe, expect, it } from 'vitest';
import { ParameterStore } from '../../../coordinator/ps/parameter-store';
import { AnyTensorMap, nonzeroRows } from '../../../shared/codec/host-tensor';
import { fromWire, toWire, zerosFromWire } from '../../../shared/codec/wire';

const int32 = (key: string, shape: number[], values: number[]): AnyTensorMap => new Map([[key, { shape, data: Int32Array.from(values) }]]);
const f64 = (key: string, values: number[]): AnyTensorMap => new Map([[key, { shape: [values.length], data: Float64Array.from(values) }]]);

describe('ParameterStore: exact statistics (float64 and int32 keys, rows, max, release)', () => {
  it('sums float64 pushes exactly and keeps them float64', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', f64('c', [0, 0]), { name: 'sum' });
    ps.push('j', 'a', 0, 1, f64('c', [2 ** 52, 1]));
    ps.push('j', 'b', 0, 1, f64('c', [1, 2 ** 40]));
    const { tensors } = await ps.pull('j', ['c'], 1);
    const c = tensors.get('c')!.data;
    expect(c).toBeInstanceOf(Float64Array);
    // A float32 value would have lost the +1 on 2^52.
    expect([...c]).toEqual([2 ** 52 + 1, 2 ** 40 + 1]);
  });

  it('refuses an optimizer on an exact key, a push of another dtype, and an int32 sum that would wrap', () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    expect(() => ps.init('j', f64('w', [0]), { name: 'sgd', learningRate: 0.1, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 }))
      .toThrow("float64 key 'w' takes rule 'sum' or 'max', got 'sgd'");
    ps.init('j', int32('h', [2], [0, 0]), { name: 'sum' });
    expect(() => ps.push('j', 'a', 0, 1, f64('h', [1, 2]))).toThrow("pushed 'h' is float64, the server holds int32");
    ps.push('j', 'a', 0, 1, int32('h', [2], [2 ** 31 - 1, 1]));
    const waiting = ps.pull('j', ['h'], 1);
    expect(() => ps.push('j', 'b', 0, 1, int32('h', [2], [1, 1]))).toThrow('outside the int32 range');
    // The step cannot complete: the job's table is closed, so the rank waiting on it hears why.
    return expect(waiting).rejects.toThrow("key 'h': an int32 sum reached 2147483648");
  });

  it('creates nothing from an init that has one bad tensor, and refuses a caller outside the job', () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a']);
    const mixed: AnyTensorMap = new Map([['ok', { shape: [1], data: Float64Array.of(0) }], ['bad', { shape: [1], data: Float64Array.of(0), rowIds: Uint32Array.of(0) }]]);
    expect(() => ps.init('j', mixed, { name: 'sum' })).toThrow("init of 'bad': a key is created whole, not from rows");
    expect(ps.keyCount('j')).toBe(0);
    expect(() => ps.init('j', f64('x', [0]), { name: 'sum' }, 'stranger')).toThrow("worker 'stranger' is not a member of job 'j'");
  });

  it('takes the element-wise maximum with the max rule', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', f64('m', [0, 0]), { name: 'max' });
    ps.push('j', 'a', 0, 1, f64('m', [3, -Infinity]));
    ps.push('j', 'b', 0, 1, f64('m', [-1, 7]));
    expect([...(await ps.pull('j', ['m'], 1)).tensors.get('m')!.data]).toEqual([3, 7]);
  });

  it('adds pushed rows into just those rows of a table; the rows not named add zero', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', int32('t', [4, 2], [9, 9, 9, 9, 9, 9, 9, 9]), { name: 'sum' });
    ps.push('j', 'a', 0, 1, new Map([['t', { shape: [2, 2], data: Int32Array.of(1, 2, 3, 4), rowIds: Uint32Array.of(0, 3) }]]));
    ps.push('j', 'b', 0, 1, new Map([['t', { shape: [1, 2], data: Int32Array.of(10, 20), rowIds: Uint32Array.of(3) }]]));
    const t = (await ps.pull('j', ['t'], 1)).tensors.get('t')!;
    expect([...t.data]).toEqual([1, 2, 0, 0, 0, 0, 13, 24]);
    expect(() => ps.push('j', 'a', 1, 1, new Map([['t', { shape: [1, 2], data: Int32Array.of(1, 1), rowIds: Uint32Array.of(4) }]])))
      .toThrow("pushed row 4 of 't', which has 4 rows");
  });

  it('drops a key once every member released it, or at once when its only reader drops it', () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', f64('x', [1]), { name: 'sum' });
    ps.init('j', f64('y', [1]), { name: 'sum' });
    ps.release('j', 'a', ['x']);
    expect(ps.keyCount('j')).toBe(2);
    ps.release('j', 'b', ['x', 'never-made']);
    expect(ps.keyCount('j')).toBe(1);
    ps.release('j', 'b', ['y'], true);
    expect(ps.keyCount('j')).toBe(0);
    // A retried init that arrives after the drop does not bring the key back.
    expect(ps.init('j', f64('y', [1]), { name: 'sum' })).toEqual([]);
    expect(ps.keyCount('j')).toBe(0);
    expect(() => ps.release('j', 'stranger', ['y'])).toThrow("worker 'stranger' is not a member of job 'j'");
  });
});

describe('ParameterStore: a key released while a pull waits for it', () => {
  it('fails the pull, naming the key, instead of leaving it waiting', async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.init('j', f64('v', [0]), { name: 'sum' });
    const waiting = ps.pull('j', ['v'], 1);
    ps.release('j', 'a', ['v'], true);
    await expect(waiting).rejects.toThrow("job 'j': key 'v' was released while this pull waited for it");
  });
});

describe('tensor codec: row tensors and zero-valued inits', () => {
  it('round-trips a row tensor with its ids, and keeps only the nonzero rows of a table', () => {
    const table = { shape: [4, 2], data: Int32Array.of(0, 0, 5, 0, 0, 0, -1, 2) };
    const sparse = nonzeroRows(table);
    expect([...sparse.rowIds!]).toEqual([1, 3]);
    expect(sparse.shape).toEqual([2, 2]);
    const back = fromWire(toWire('t', sparse));
    expect(back.data).toBeInstanceOf(Int32Array);
    expect([...back.data]).toEqual([5, 0, -1, 2]);
    expect([...back.rowIds!]).toEqual([1, 3]);
    const empty = fromWire(toWire('t', nonzeroRows({ shape: [3, 2], data: new Int32Array(6) })));
    expect(empty.shape).toEqual([0, 2]);
    expect(empty.rowIds!.length).toBe(0);
  });

  it('refuses row ids that do not match the rows, and a zero-valued init that carries data', () => {
    const w = toWire('t', { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4), rowIds: Uint32Array.of(0, 1) });
    expect(() => fromWire({ ...w, shape: [3, 2], data: new Uint8Array(24) })).toThrow("tensor 't': 2 row ids for a shape of [3, 2]");
    expect(() => fromWire({ ...w, rows: false })).toThrow("tensor 't': row_ids given without 'rows'");
    expect(() => zerosFromWire([toWire('z', { shape: [1], data: Float32Array.of(1) })])).toThrow("tensor 'z': a zero-valued init carries no data");
    const zeros = zerosFromWire([{ key: 'z', dtype: 3, shape: [2, 3] }]).get('z')!;
    expect(zeros.data).toBeInstanceOf(Float64Array);
    expect(zeros.data.length).toBe(6);
  });
});
