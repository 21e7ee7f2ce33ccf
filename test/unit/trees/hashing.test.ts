import { describe, expect, it } from 'vitest';
import { hash32, poissonOne, sampleFeatures, unitUniform } from '../../../shared/families/trees/kernels/hashing';

describe('hashing', () => {
  it('hash32 returns the same uint32 for the same words and differs when any word changes', () => {
    const h = hash32(1, 2, 3, 4);
    expect(h).toBe(hash32(1, 2, 3, 4));
    expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    const others = [hash32(0, 2, 3, 4), hash32(1, 0, 3, 4), hash32(1, 2, 0, 4), hash32(1, 2, 3, 0)];
    for (const o of others) expect(o).not.toBe(h);
  });

  it('unitUniform lies in [0, 1) with mean about one half', () => {
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const u = unitUniform(5, 1, i, 0);
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(sum / 20000).toBeCloseTo(0.5, 2);
  });

  it('poissonOne has mean and variance about 1 over 100k rows and repeats exactly', () => {
    const n = 100_000;
    const draws = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      draws[r] = poissonOne(42, 3, r);
      sum += draws[r];
    }
    expect(draws.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
    const mean = sum / n;
    let ss = 0;
    for (let r = 0; r < n; r++) ss += (draws[r] - mean) ** 2;
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
    expect(Math.abs(ss / (n - 1) - 1)).toBeLessThan(0.03);
    let zeros = 0;
    for (let r = 0; r < n; r++) if (draws[r] === 0) zeros++;
    expect(zeros / n).toBeCloseTo(Math.exp(-1), 2);
    for (let r = 0; r < n; r += 997) expect(poissonOne(42, 3, r)).toBe(draws[r]);
  });

  it('poissonOne draws differ between trees', () => {
    let same = 0;
    for (let r = 0; r < 1000; r++) if (poissonOne(1, 0, r) === poissonOne(1, 1, r)) same++;
    expect(same).toBeLessThan(600);
  });

  it('sampleFeatures gives k distinct sorted indices, deterministically', () => {
    const a = sampleFeatures(9, 2, 17, 784, 28);
    expect(a.length).toBe(28);
    for (let i = 1; i < a.length; i++) expect(a[i]).toBeGreaterThan(a[i - 1]);
    expect(a[27]).toBeLessThan(784);
    expect(sampleFeatures(9, 2, 17, 784, 28)).toEqual(a);
    expect(sampleFeatures(9, 2, 18, 784, 28)).not.toEqual(a);
  });

  it('sampleFeatures returns every feature when k ≥ numFeatures', () => {
    expect(Array.from(sampleFeatures(1, 1, 1, 5, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(sampleFeatures(1, 1, 1, 5, 9))).toEqual([0, 1, 2, 3, 4]);
  });

  it('sampleFeatures picks each feature about equally often', () => {
    const hits = new Float64Array(10);
    for (let node = 0; node < 5000; node++) for (const f of sampleFeatures(3, 0, node, 10, 3)) hits[f]++;
    for (const c of hits) expect(Math.abs(c / 5000 - 0.3)).toBeLessThan(0.03);
  });

  it('sampleFeatures rejects a negative k naming it', () => {
    expect(() => sampleFeatures(1, 1, 1, 5, -1)).toThrow(/'k'/);
  });
});
