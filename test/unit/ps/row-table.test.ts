import { describe, expect, it } from 'vitest';
import { RowTable } from '../../../coordinator/ps/row-table';
import { ParameterStore } from '../../../coordinator/ps/parameter-store';
import { AnyTensorMap } from '../../../shared/codec/host-tensor';

const sgd = { name: 'sgd', learningRate: 0.5, momentum: 0, beta1: 0, beta2: 0, epsilon: 0 } as const;
const normal = { kind: 'normal', mean: 0, std: 1, seed: 3 } as const;
const rows = (key: string, ids: number[], width: number, values: number[]): AnyTensorMap =>
  new Map([[key, { shape: [ids.length, width], data: Float32Array.from(values), rowIds: Uint32Array.from(ids) }]]);

describe('RowTable: rows addressed by id, created on first touch, stepped per row', () => {
  it("starts a row from its id alone: the order rows are first touched in does not change them", () => {
    const a = new RowTable(50, 3, normal, sgd);
    const b = new RowTable(50, 3, normal, sgd);
    const first = a.read(Uint32Array.of(7, 40, 2));
    b.read(Uint32Array.of(40));
    b.read(Uint32Array.of(2));
    expect([...b.read(Uint32Array.of(7, 40, 2))]).toEqual([...first]);
    expect(first.some((v) => v !== 0)).toBe(true);
    // Another seed, other values.
    expect([...new RowTable(50, 3, { ...normal, seed: 4 }, sgd).read(Uint32Array.of(7))]).not.toEqual([...first.subarray(0, 3)]);
  });

  it("sgd: a row's pushes of one step are summed and stepped once; rows not pushed keep their value", () => {
    const t = new RowTable(10, 2, { kind: 'zeros' }, sgd);
    t.add(Uint32Array.of(1, 4), Float32Array.of(1, 2, 3, 4));
    t.add(Uint32Array.of(4), Float32Array.of(10, 20));
    expect(t.touchedRows).toBe(2);
    t.apply();
    expect(t.touchedRows).toBe(0);
    expect([...t.read(Uint32Array.of(1, 4, 5))]).toEqual([-0.5, -1, -6.5, -12, 0, 0]);
    // The next step starts from empty sums.
    t.add(Uint32Array.of(5), Float32Array.of(2, 2));
    t.apply();
    expect([...t.read(Uint32Array.of(4, 5))]).toEqual([-6.5, -12, -1, -1]);
  });

  it('adagrad: each element steps by lr·g / (sqrt(G) + eps), G starting at the initial accumulator', () => {
    const t = new RowTable(3, 1, { kind: 'zeros' }, { name: 'adagrad', learningRate: 1, initialAccumulator: 1, epsilon: 0 });
    t.add(Uint32Array.of(0), Float32Array.of(2));
    t.apply();
    expect(t.read(Uint32Array.of(0))[0]).toBeCloseTo(-2 / Math.sqrt(5), 6);
    t.add(Uint32Array.of(0), Float32Array.of(1));
    t.apply();
    expect(t.read(Uint32Array.of(0))[0]).toBeCloseTo(-2 / Math.sqrt(5) - 1 / Math.sqrt(6), 6);
  });

  it("sum: a pushed row becomes the sum of the step's pushes of it", () => {
    const t = new RowTable(4, 1, { kind: 'zeros' }, { name: 'sum' });
    t.add(Uint32Array.of(2), Float32Array.of(5));
    t.apply();
    t.add(Uint32Array.of(2, 2), Float32Array.of(1, 2));
    t.apply();
    expect([...t.read(Uint32Array.of(2, 3))]).toEqual([3, 0]);
  });

  it('refuses a row outside the table, adding nothing, and a rule a table does not take', () => {
    const t = new RowTable(4, 1, { kind: 'zeros' }, sgd);
    expect(() => t.add(Uint32Array.of(1, 4), Float32Array.of(1, 1))).toThrow("row 4 is outside the table's 4 rows");
    expect(t.touchedRows).toBe(0);
    expect(() => new RowTable(4, 1, { kind: 'zeros' }, { name: 'max' })).toThrow("a row table takes rule 'sum', 'sgd', 'adagrad', got 'max'");
  });
});

describe('ParameterStore: row tables are bulk-synchronous per step', () => {
  it("applies a table's step once every member pushed (possibly no rows), and pulls just the rows asked for", async () => {
    const ps = new ParameterStore();
    ps.openJob('j', ['a', 'b']);
    ps.initTables('j', [{ key: 'items', dtype: 'float32', shape: [1000, 2] }], sgd, { kind: 'zeros' }, 'a');
    ps.push('j', 'a', 0, 3, rows('items', [9], 2, [1, 1]));
    const waiting = ps.pull('j', ['items'], 1, Uint32Array.of(9, 500));
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    ps.push('j', 'b', 0, 0, rows('items', [], 2, []));
    const { version, tensors } = await waiting;
    expect(version).toBe(1);
    const t = tensors.get('items')!;
    expect(t.shape).toEqual([2, 2]);
    expect([...t.rowIds!]).toEqual([9, 500]);
    expect([...t.data]).toEqual([-0.5, -0.5, 0, 0]);
    expect(() => ps.push('j', 'a', 1, 1, new Map([['items', { shape: [1000, 2], data: new Float32Array(2000) }]]))).toThrow("push to row table 'items' must name its rows");
    await expect(ps.pull('j', ['items'], 1, Uint32Array.of(1000))).rejects.toThrow("row 1000 is outside the table's 1000 rows");
  });
});
