import { describe, expect, it } from 'vitest';
import {
  ObjectiveName, gradients, lossSum, probabilities, quantizationScale, quantize,
} from '../../../shared/families/trees/kernels/objectives';
import { seededRandom } from '../../../shared/random';

const rows = 7;
const K = 3;

function setup(objective: ObjectiveName): { margins: Float64Array; y: Float32Array; outputs: number } {
  const rand = seededRandom(objective.length);
  const outputs = objective === 'softmax' ? K : 1;
  const margins = Float64Array.from({ length: outputs * rows }, () => rand() * 4 - 2);
  const y = Float32Array.from({ length: rows }, (_, r) =>
    objective === 'squared' ? rand() * 3 - 1 : objective === 'logistic' ? r % 2 : r % K);
  return { margins, y, outputs };
}

describe('objectives', () => {
  for (const objective of ['squared', 'logistic', 'softmax'] as const) {
    it(`${objective}: gradients match finite differences of lossSum`, () => {
      const { margins, y, outputs } = setup(objective);
      const g = new Float64Array(outputs * rows);
      const h = new Float64Array(outputs * rows);
      gradients(objective, margins, y, rows, K, g, h);
      const eps = 1e-5;
      for (let i = 0; i < margins.length; i++) {
        const plus = margins.slice();
        const minus = margins.slice();
        plus[i] += eps;
        minus[i] -= eps;
        const fd = (lossSum(objective, plus, y, rows, K) - lossSum(objective, minus, y, rows, K)) / (2 * eps);
        expect(g[i]).toBeCloseTo(fd, 6);
        // The hessian is the derivative of the gradient (twice it for softmax, as in XGBoost).
        const gp = new Float64Array(outputs * rows);
        const gm = new Float64Array(outputs * rows);
        const scratch = new Float64Array(outputs * rows);
        gradients(objective, plus, y, rows, K, gp, scratch);
        gradients(objective, minus, y, rows, K, gm, scratch);
        const fdh = (gp[i] - gm[i]) / (2 * eps);
        expect(h[i]).toBeCloseTo(objective === 'softmax' ? 2 * fdh : fdh, 6);
      }
    });
  }

  it('squared loss is Σ (m − y)²/2', () => {
    expect(lossSum('squared', Float64Array.from([1, 3]), Float32Array.from([0, 1]), 2, 1)).toBe(2.5);
  });

  it('clips probabilities at 1e-15 in the log-loss', () => {
    expect(lossSum('logistic', Float64Array.from([-100]), Float32Array.from([1]), 1, 1)).toBeCloseTo(-Math.log(1e-15), 6);
    expect(lossSum('softmax', Float64Array.from([-100, 100]), Float32Array.from([0]), 1, 2)).toBeCloseTo(-Math.log(1e-15), 6);
  });

  it('keeps hessians at least 1e-16 for confident margins', () => {
    const g = new Float64Array(1);
    const h = new Float64Array(1);
    gradients('logistic', Float64Array.from([800]), Float32Array.from([1]), 1, 1, g, h);
    expect(h[0]).toBe(1e-16);
    expect(g[0]).toBe(0);
  });

  it('rejects a class id out of range naming the row', () => {
    const g = new Float64Array(3);
    expect(() => gradients('softmax', new Float64Array(3), Float32Array.from([3]), 1, 3, g, g)).toThrow(/'y\[0\]'/);
  });

  it('turns margins into probabilities', () => {
    const out = new Float64Array(3);
    probabilities('softmax', [0, Math.log(2), Math.log(3)], out);
    expect(Array.from(out).map((p) => p * 6)).toEqual([1, 2, 3].map((v) => expect.closeTo(v, 12)));
    probabilities('logistic', [0], out);
    expect(Array.from(out.subarray(0, 2))).toEqual([0.5, 0.5]);
    probabilities('squared', [1.25], out);
    expect(out[0]).toBe(1.25);
  });

  it('quantizes to integers whose sums over all rows stay exact', () => {
    const s = quantizationScale(0.75, 180000);
    expect(Math.log2(s) % 1).toBe(0);
    expect(180000 * 0.75 * s).toBeLessThanOrEqual(2 ** 52);
    expect(180000 * 0.75 * s * 2).toBeGreaterThan(2 ** 52);
    expect(quantizationScale(0, 10)).toBe(1);
    const out = new Float64Array(3);
    quantize(Float64Array.from([0.3, -0.75, 0.5]), 3, 4, out);
    expect(Array.from(out)).toEqual([1, -3, 2]);
  });

  it('gives the same integer sum in any order and any sharding', () => {
    const rand = seededRandom(3);
    const n = 30000;
    const v = Float64Array.from({ length: n }, () => rand() * 2 - 1);
    const q = new Float64Array(n);
    quantize(v, n, quantizationScale(1, n), q);
    let forward = 0;
    for (let i = 0; i < n; i++) forward += q[i];
    let backward = 0;
    for (let i = n - 1; i >= 0; i--) backward += q[i];
    let shards = 0;
    for (const [a, b] of [[0, 9000], [9000, 21000], [21000, n]]) {
      let part = 0;
      for (let i = a; i < b; i++) part += q[i];
      shards += part;
    }
    expect(backward).toBe(forward);
    expect(shards).toBe(forward);
  });
});
