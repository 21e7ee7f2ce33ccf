import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../../shared/errors';
import {
  SKETCH_CELLS, binColumns, binOf, cutsFromJson, cutsFromSketch, cutsToJson, localRanges, localSketch,
} from '../../../shared/families/trees/kernels/binning';
import { seededRandom } from '../../../shared/random';

/** rows × cols of mixed features: uniform, skewed, integers, constant, with NaNs. */
function mixedData(rows: number, seed: number): { x: Float32Array; cols: number } {
  const cols = 5;
  const rand = seededRandom(seed);
  const x = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    x[r * cols] = rand() * 10 - 5;
    x[r * cols + 1] = Math.exp(rand() * 8);
    x[r * cols + 2] = Math.floor(rand() * 7);
    x[r * cols + 3] = 2.5;
    x[r * cols + 4] = rand() < 0.2 ? NaN : rand();
  }
  return { x, cols };
}

function slice(x: Float32Array, cols: number, from: number, to: number): Float32Array {
  return x.subarray(from * cols, to * cols);
}

describe('binning', () => {
  it('gives the same cut points sketched whole and sketched in 3 row shards', () => {
    const rows = 3001;
    const { x, cols } = mixedData(rows, 1);
    const whole = cutsFromSketch(localSketch(x, rows, cols, localRanges(x, rows, cols)), localRanges(x, rows, cols), cols, 64);
    const bounds = [0, 1000, 1700, rows];
    const ranges = new Float64Array(2 * cols).fill(-Infinity);
    for (let s = 0; s < 3; s++) {
      const part = localRanges(slice(x, cols, bounds[s], bounds[s + 1]), bounds[s + 1] - bounds[s], cols);
      for (let i = 0; i < ranges.length; i++) ranges[i] = Math.max(ranges[i], part[i]);
    }
    const counts = new Float64Array(cols * (SKETCH_CELLS + 1));
    for (let s = 0; s < 3; s++) {
      const part = localSketch(slice(x, cols, bounds[s], bounds[s + 1]), bounds[s + 1] - bounds[s], cols, ranges);
      for (let i = 0; i < counts.length; i++) counts[i] += part[i];
    }
    const sharded = cutsFromSketch(counts, ranges, cols, 64);
    expect(sharded).toEqual(whole);
    expect(whole.thresholds[0].length).toBe(62);
  });

  it('records −min and max per feature, skipping NaN, and −Infinity for a feature with no finite value', () => {
    const x = Float32Array.from([1, NaN, -3, NaN, 2, NaN]);
    expect(Array.from(localRanges(x, 3, 2))).toEqual([3, 2, -Infinity, -Infinity]);
  });

  it('counts NaN in the missing slot of the sketch', () => {
    const x = Float32Array.from([0, NaN, 1, NaN, NaN]);
    const counts = localSketch(x, 5, 1, localRanges(x, 5, 1));
    expect(counts[SKETCH_CELLS]).toBe(3);
    expect(counts[0]).toBe(1);
    expect(counts[SKETCH_CELLS - 1]).toBe(1);
  });

  it('gives integer-valued features one bin per value', () => {
    const rows = 60000;
    const x = new Float32Array(rows);
    const rand = seededRandom(4);
    // Pixel-like: mostly 0, the rest spread over 1..254.
    for (let r = 0; r < rows; r++) x[r] = rand() < 0.8 ? 0 : 1 + Math.floor(rand() * 254);
    x[0] = 254;
    const ranges = localRanges(x, rows, 1);
    const cuts = cutsFromSketch(localSketch(x, rows, 1, ranges), ranges, 1, 256);
    expect(cuts.thresholds[0].length).toBe(254);
    for (let v = 0; v < 255; v++) expect(binOf(cuts, 0, v)).toBe(v + 1);
  });

  it('spreads the bins of a skewed feature by frequency when the values do not fit one per bin', () => {
    const rows = 50000;
    const rand = seededRandom(8);
    const x = Float32Array.from({ length: rows }, () => (rand() < 0.5 ? 0 : 0.01 + 0.99 * rand()));
    const ranges = localRanges(x, rows, 1);
    const cuts = cutsFromSketch(localSketch(x, rows, 1, ranges), ranges, 1, 17);
    expect(cuts.thresholds[0].length).toBe(15);
    const sizes = new Float64Array(17);
    for (const v of x) sizes[binOf(cuts, 0, v)]++;
    expect(sizes[1]).toBe(x.filter((v) => v === 0).length);
    // The other half is shared by 15 bins of about 1/30 each.
    for (let b = 2; b <= 16; b++) expect(Math.abs(sizes[b] / rows - 1 / 30)).toBeLessThan(0.01);
  });

  it('gives a constant or all-missing feature a single value bin', () => {
    const x = Float32Array.from([7, NaN, 7, NaN, 7, NaN]);
    const ranges = localRanges(x, 3, 2);
    const cuts = cutsFromSketch(localSketch(x, 3, 2, ranges), ranges, 2, 256);
    expect(cuts.thresholds.map((t) => t.length)).toEqual([0, 0]);
    expect(binOf(cuts, 0, 7)).toBe(1);
    expect(binOf(cuts, 1, NaN)).toBe(0);
  });

  it('sends NaN to bin 0 and keeps codes below maxBins', () => {
    const { x, cols } = mixedData(2000, 2);
    const ranges = localRanges(x, 2000, cols);
    const cuts = cutsFromSketch(localSketch(x, 2000, cols, ranges), ranges, cols, 16);
    const bins = binColumns(x, 2000, cols, cuts);
    for (let r = 0; r < 2000; r++) {
      const v = x[r * cols + 4];
      if (Number.isNaN(v)) expect(bins[4 * 2000 + r]).toBe(0);
      else expect(bins[4 * 2000 + r]).toBeGreaterThan(0);
    }
    expect(Math.max(...bins)).toBeLessThan(16);
  });

  it('binColumns agrees with binOf on every cell', () => {
    const rows = 1500;
    const { x, cols } = mixedData(rows, 3);
    const ranges = localRanges(x, rows, cols);
    const cuts = cutsFromSketch(localSketch(x, rows, cols, ranges), ranges, cols, 256);
    const bins = binColumns(x, rows, cols, cuts);
    for (let r = 0; r < rows; r++) for (let f = 0; f < cols; f++) expect(bins[f * rows + r]).toBe(binOf(cuts, f, x[r * cols + f]));
  });

  it('puts every value counted in a sketch cell on the same side of that cell’s threshold', () => {
    // Values on exact cell edges are where a floor formula and the edge formula could disagree.
    const rows = SKETCH_CELLS + 1;
    const x = Float32Array.from({ length: rows }, (_, i) => (i / SKETCH_CELLS) * 3 - 1);
    const ranges = localRanges(x, rows, 1);
    const cuts = cutsFromSketch(localSketch(x, rows, 1, ranges), ranges, 1, 256);
    const bins = binColumns(x, rows, 1, cuts);
    const perBin = new Float64Array(256);
    for (const b of bins) perBin[b]++;
    // Equal-frequency over 2049 evenly spaced values: 255 bins of 8 or 9 values.
    for (let b = 1; b < 256; b++) expect(perBin[b] === 8 || perBin[b] === 9 || (b === 255 && perBin[b] >= 8)).toBe(true);
  });

  it('round-trips cuts through JSON', () => {
    const { x, cols } = mixedData(500, 5);
    const ranges = localRanges(x, 500, cols);
    const cuts = cutsFromSketch(localSketch(x, 500, cols, ranges), ranges, cols, 32);
    expect(cutsFromJson(JSON.parse(JSON.stringify(cutsToJson(cuts))))).toEqual(cuts);
  });

  it('rejects malformed cuts JSON naming the field', () => {
    expect(() => cutsFromJson({ cols: 1, maxBins: 8, thresholds: [[1, 0.5]] })).toThrow(/cuts\.thresholds\[0\]\[1\]/);
    expect(() => cutsFromJson({ cols: 2, maxBins: 8, thresholds: [[]] })).toThrow(/cuts\.thresholds/);
    expect(() => cutsFromJson({ cols: 1, maxBins: 300, thresholds: [[]] })).toThrow(/cuts\.maxBins/);
    expect(() => cutsFromJson({ cols: 1, maxBins: 8, thresholds: [[null]] })).toThrow(ArgumentError);
  });

  it('rejects maxBins outside [2, 256]', () => {
    expect(() => cutsFromSketch(new Float64Array(SKETCH_CELLS + 1), new Float64Array(2), 1, 257)).toThrow(/'maxBins'/);
  });
});
