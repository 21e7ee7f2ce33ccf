import { describe, expect, it } from 'vitest';
import { buildGradHist, layoutOf } from '../../../shared/families/trees/kernels/histogram';
import { binColumns, cutsFromSketch, localRanges, localSketch } from '../../../shared/families/trees/kernels/binning';
import { seededRandom } from '../../../shared/random';
import { allRows, cutsWithBins, randomBins } from './fixtures';

/**
 * Timing of the hot kernels at MNIST size, opt-in because it takes seconds:
 * TREES_RATE=1 npx vitest run test/unit/trees/histogram-rate.test.ts
 */
describe.runIf(process.env.TREES_RATE === '1')('histogram rate', () => {
  const rows = 60000;
  const cols = 784;

  it('builds gradient histograms of 60,000 rows × 784 features', () => {
    const cuts = cutsWithBins(new Array<number>(cols).fill(255));
    const bins = randomBins(cuts, rows, 1, 0);
    const rand = seededRandom(2);
    const g = Float64Array.from({ length: rows }, () => Math.round(rand() * 1000));
    const h = Float64Array.from({ length: rows }, () => Math.round(rand() * 1000));
    const layout = layoutOf(cuts, allRows(cols));
    const out = new Float64Array(2 * layout.cells);
    const sampled = allRows(rows).filter((r) => r % 3 !== 0);
    for (const [name, idx] of [['all rows', allRows(rows)], ['2/3 of rows', sampled]] as const) {
      buildGradHist(bins, rows, idx, idx.length, layout, g, h, out, 0); // warm-up
      const reps = 5;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) buildGradHist(bins, rows, idx, idx.length, layout, g, h, out, 0);
      const s = Number(process.hrtime.bigint() - t0) / 1e9 / reps;
      console.log(`buildGradHist ${name}: ${(s * 1000).toFixed(0)} ms, ${((idx.length * cols) / s / 1e6).toFixed(0)}M rows×features/s`);
    }
    expect(out[0]).toBeGreaterThanOrEqual(0);
  });

  it('bins 60,000 rows × 784 features', () => {
    const rand = seededRandom(3);
    const x = Float32Array.from({ length: rows * cols }, () => Math.floor(rand() * 256));
    const cuts = cutsWithBins(new Array<number>(cols).fill(255));
    cuts.thresholds = cuts.thresholds.map((t) => t.map((v) => v + 0.5));
    const t0 = process.hrtime.bigint();
    const bins = binColumns(x, rows, cols, cuts);
    console.log(`binColumns: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
    expect(bins.length).toBe(rows * cols);
    const t1 = process.hrtime.bigint();
    const ranges = localRanges(x, rows, cols);
    const t2 = process.hrtime.bigint();
    const counts = localSketch(x, rows, cols, ranges);
    const t3 = process.hrtime.bigint();
    const sketched = cutsFromSketch(counts, ranges, cols, 256);
    const t4 = process.hrtime.bigint();
    const ms = (a: bigint, b: bigint): string => (Number(b - a) / 1e6).toFixed(0);
    console.log(`localRanges ${ms(t1, t2)} ms, localSketch ${ms(t2, t3)} ms, cutsFromSketch ${ms(t3, t4)} ms`);
    expect(sketched.thresholds[0].length).toBe(254);
  });
});
