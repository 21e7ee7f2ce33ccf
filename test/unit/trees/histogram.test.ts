import { describe, expect, it } from 'vitest';
import {
  buildClassHist, buildGradHist, buildStatHist, layoutOf, subtractHist,
} from '../../../shared/families/trees/kernels/histogram';
import { quantizationScale, quantize } from '../../../shared/families/trees/kernels/objectives';
import { seededRandom } from '../../../shared/random';
import { allRows, cutsWithBins, randomBins } from './fixtures';

describe('histogram', () => {
  const cuts = cutsWithBins([4, 1, 9, 3]);

  it('lays out 1 + k_f cells per listed feature', () => {
    const layout = layoutOf(cuts, Uint32Array.from([0, 2, 3]));
    expect(Array.from(layout.offsets)).toEqual([0, 5, 15, 19]);
    expect(layout.cells).toBe(19);
  });

  it('rejects unsorted or out-of-range features naming them', () => {
    expect(() => layoutOf(cuts, Uint32Array.from([2, 1]))).toThrow(/'features'/);
    expect(() => layoutOf(cuts, Uint32Array.from([4]))).toThrow(/'features\[0\]'/);
  });

  it('adds g and h of the listed rows into interleaved cells', () => {
    const rows = 4;
    // Feature 0 codes per row: 0, 1, 1, 4; feature 2: 9, 0, 3, 3.
    const bins = new Uint8Array(4 * rows);
    bins.set([0, 1, 1, 4], 0);
    bins.set([9, 0, 3, 3], 2 * rows);
    const layout = layoutOf(cuts, Uint32Array.from([0, 2]));
    const g = Float64Array.from([1, 2, 3, 4]);
    const h = Float64Array.from([10, 20, 30, 40]);
    const out = new Float64Array(2 * layout.cells);
    buildGradHist(bins, rows, Uint32Array.from([0, 2, 3]), 3, layout, g, h, out, 0);
    const expected = new Float64Array(2 * layout.cells);
    expected.set([1, 10], 0); // f0 code 0 ← row 0
    expected.set([3, 30], 2); // f0 code 1 ← row 2
    expected.set([4, 40], 8); // f0 code 4 ← row 3
    expected.set([1, 10], 2 * (5 + 9)); // f2 code 9 ← row 0
    expected.set([7, 70], 2 * (5 + 3)); // f2 code 3 ← rows 2, 3
    expect(out).toEqual(expected);
  });

  it('sums histograms over 3 row shards to the whole-data histogram exactly', () => {
    const rows = 3000;
    const bins = randomBins(cuts, rows, 1);
    const rand = seededRandom(2);
    const gRaw = Float64Array.from({ length: rows }, () => rand() * 2 - 1);
    const hRaw = Float64Array.from({ length: rows }, () => rand() * 0.25);
    const s = quantizationScale(1, rows);
    const g = new Float64Array(rows);
    const h = new Float64Array(rows);
    quantize(gRaw, rows, s, g);
    quantize(hRaw, rows, s, h);
    const layout = layoutOf(cuts, Uint32Array.from([0, 1, 2, 3]));
    const whole = new Float64Array(2 * layout.cells);
    buildGradHist(bins, rows, allRows(rows), rows, layout, g, h, whole, 0);

    const bounds = [0, 1100, 1900, rows];
    const summed = new Float64Array(2 * layout.cells);
    for (let p = 0; p < 3; p++) {
      const n = bounds[p + 1] - bounds[p];
      // Each shard holds its own column block, as a worker does.
      const local = new Uint8Array(4 * n);
      for (let f = 0; f < 4; f++) local.set(bins.subarray(f * rows + bounds[p], f * rows + bounds[p + 1]), f * n);
      const part = new Float64Array(2 * layout.cells);
      buildGradHist(local, n, allRows(n), n, layout, g.subarray(bounds[p]), h.subarray(bounds[p]), part, 0);
      for (let i = 0; i < part.length; i++) summed[i] += part[i];
    }
    expect(summed).toEqual(whole);
  });

  it('gives the sibling by subtracting a child from its parent', () => {
    const rows = 500;
    const bins = randomBins(cuts, rows, 3);
    const g = Float64Array.from({ length: rows }, (_, r) => (r % 7) - 3);
    const h = Float64Array.from({ length: rows }, (_, r) => 1 + (r % 3));
    const layout = layoutOf(cuts, Uint32Array.from([0, 2]));
    const parent = new Float64Array(2 * layout.cells);
    buildGradHist(bins, rows, allRows(rows), rows, layout, g, h, parent, 0);
    const leftRows = allRows(rows).filter((r) => r % 3 === 0);
    const rightRows = allRows(rows).filter((r) => r % 3 !== 0);
    // Two node histograms side by side in one buffer, at offsets.
    const kids = new Float64Array(4 * layout.cells);
    buildGradHist(bins, rows, leftRows, leftRows.length, layout, g, h, kids, 0);
    const right = new Float64Array(2 * layout.cells);
    buildGradHist(bins, rows, rightRows, rightRows.length, layout, g, h, right, 0);
    subtractHist(parent, 0, kids, 0, 2 * layout.cells, kids, 2 * layout.cells);
    expect(kids.subarray(2 * layout.cells)).toEqual(right);
  });

  it('adds stats into numStats cells and does not clear the output', () => {
    const rows = 3;
    const bins = new Uint8Array(4 * rows);
    bins.set([1, 2, 1], 0);
    const layout = layoutOf(cuts, Uint32Array.from([0]));
    const stats = Float64Array.from([1, 2, 4, 2, 6, 18, 1, 3, 9]);
    const out = new Float64Array(3 * layout.cells).fill(1);
    buildStatHist(bins, rows, allRows(3), 3, layout, stats, 3, out, 0);
    expect(Array.from(out.subarray(3, 9))).toEqual([3, 6, 14, 3, 7, 19]);
    const two = new Float64Array(2 * layout.cells);
    buildStatHist(bins, rows, allRows(3), 3, layout, Float64Array.from([1, 2, 3, 4, 5, 6]), 2, two, 0);
    expect(Array.from(two.subarray(2, 6))).toEqual([6, 8, 3, 4]);
  });

  it('adds class weights and skips rows of weight 0', () => {
    const rows = 4;
    const bins = new Uint8Array(4 * rows);
    bins.set([1, 1, 2, 0], 0);
    const layout = layoutOf(cuts, Uint32Array.from([0]));
    const out = new Float64Array(3 * layout.cells);
    // Row 1 has class id 7, which is invalid, but weight 0, so it is never read.
    buildClassHist(bins, rows, allRows(4), 4, layout, Float64Array.from([2, 0, 1, 3]), Float32Array.from([1, 7, 2, 0]), 3, out, 0);
    expect(Array.from(out.subarray(0, 9))).toEqual([3, 0, 0, 0, 2, 0, 0, 0, 1]);
    expect(() => buildClassHist(bins, rows, allRows(4), 4, layout, Float64Array.from([1, 1, 1, 1]), Uint8Array.from([1, 7, 2, 0]), 3, out, 0))
      .toThrow(/'classOf\[1\]'/);
  });

  it('rejects a row id beyond the rows and a short output', () => {
    const layout = layoutOf(cuts, Uint32Array.from([0]));
    const bins = new Uint8Array(8);
    const g = new Float64Array(2);
    expect(() => buildGradHist(bins, 2, Uint32Array.from([2]), 1, layout, g, g, new Float64Array(10), 0)).toThrow(/'rowIdx'/);
    expect(() => buildGradHist(bins, 2, Uint32Array.from([1]), 1, layout, g, g, new Float64Array(9), 0)).toThrow(/'out'/);
  });
});

describe('histogram builders against a direct sum', () => {
  // Seven features, so both the four-feature passes and the remainder run.
  const cuts = cutsWithBins([3, 5, 1, 8, 2, 6, 4]);
  const rows = 400;
  const bins = randomBins(cuts, rows, 11, 0.15);
  const rand = seededRandom(12);
  const rowIdx = allRows(rows).filter(() => rand() < 0.6);
  const features = Uint32Array.from([0, 1, 3, 4, 5, 6]);
  const layout = layoutOf(cuts, features);

  function direct(stride: number, add: (r: number, cell: number, out: Float64Array) => void): Float64Array {
    const out = new Float64Array(5 + stride * layout.cells);
    for (const r of rowIdx) {
      features.forEach((f, i) => add(r, 5 + stride * (layout.offsets[i] + bins[f * rows + r]), out));
    }
    return out;
  }

  it('buildGradHist matches a direct sum at an offset', () => {
    const g = Float64Array.from({ length: rows }, () => Math.round(rand() * 100 - 50));
    const h = Float64Array.from({ length: rows }, () => Math.round(rand() * 100));
    const out = new Float64Array(5 + 2 * layout.cells);
    buildGradHist(bins, rows, rowIdx, rowIdx.length, layout, g, h, out, 5);
    expect(out).toEqual(direct(2, (r, c, o) => { o[c] += g[r]; o[c + 1] += h[r]; }));
  });

  it('buildStatHist matches a direct sum for 3 and for 2 statistics', () => {
    for (const k of [3, 2]) {
      const stats = Float64Array.from({ length: rows * k }, () => Math.round(rand() * 20));
      const out = new Float64Array(5 + k * layout.cells);
      buildStatHist(bins, rows, rowIdx, rowIdx.length, layout, stats, k, out, 5);
      expect(out).toEqual(direct(k, (r, c, o) => { for (let s = 0; s < k; s++) o[c + s] += stats[r * k + s]; }));
    }
  });

  it('buildClassHist matches a direct sum', () => {
    const weight = Float64Array.from({ length: rows }, () => Math.floor(rand() * 3));
    const classOf = Int32Array.from({ length: rows }, () => Math.floor(rand() * 4));
    const out = new Float64Array(5 + 4 * layout.cells);
    buildClassHist(bins, rows, rowIdx, rowIdx.length, layout, weight, classOf, 4, out, 5);
    expect(out).toEqual(direct(4, (r, c, o) => { o[c + classOf[r]] += weight[r]; }));
  });
});
