import { ArgumentError } from '../../../errors';
import { requireInt, requireLength } from './argument-checks';

/**
 * Binning of raw feature values into uint8 codes, through a mergeable sketch
 * that does not depend on how rows are sharded:
 * 1. each worker calls {@link localRanges}; the ranges are reduced by MAX;
 * 2. each worker calls {@link localSketch} on the reduced ranges; the counts are summed;
 * 3. each worker calls {@link cutsFromSketch} on the sums and gets the same cuts.
 *
 * @example
 * const ranges = localRanges(x, rows, cols);          // max-reduce across workers
 * const counts = localSketch(x, rows, cols, ranges);   // sum across workers
 * const cuts = cutsFromSketch(counts, ranges, cols, 256);
 * const bins = binColumns(x, rows, cols, cuts);        // bins[f * rows + r]
 */

/** Equal-width cells per feature in the sketch grid. */
export const SKETCH_CELLS = 2048;

/** Slots per feature in a sketch: the cells, then one count of missing values. */
const SLOTS = SKETCH_CELLS + 1;

/**
 * Per-feature value ranges of a row-major block, in a form that reduces across
 * workers by element-wise MAX.
 *
 * @param x row-major values, `x[r * cols + f]`; NaN is missing.
 * @returns length 2·cols: `[2f]` = −min, `[2f+1]` = max over the finite values of
 *   feature f; both −Infinity when f has no finite value. ±Infinity values are
 *   skipped here (the sketch puts them in the end cells).
 */
export function localRanges(x: Float32Array, rows: number, cols: number): Float64Array {
  checkBlock(x, rows, cols);
  const out = new Float64Array(2 * cols).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let f = 0; f < cols; f++) {
      const v = x[base + f];
      // v - v is NaN for NaN and ±Infinity, 0 otherwise.
      if (v - v !== 0) continue;
      if (-v > out[2 * f]) out[2 * f] = -v;
      if (v > out[2 * f + 1]) out[2 * f + 1] = v;
    }
  }
  return out;
}

/**
 * Lower edge of sketch cell c of a feature: min + c/CELLS·(max − min). Non-decreasing
 * in c (c/CELLS is exact and rounding is monotone). The sketch and the cut points
 * both call this, so they agree to the bit.
 */
function cellEdge(min: number, width: number, c: number): number {
  return min + (c / SKETCH_CELLS) * width;
}

/**
 * The sketch cell of a non-NaN value v of a feature with min < max: the floor
 * formula, then nudged so that edge(c) ≤ v < edge(c + 1) holds exactly in
 * float64 (the end cells are open outwards). A threshold at a cell's lower edge
 * then separates exactly the values counted below the cell from those in it.
 */
function cellOf(v: number, min: number, width: number, scale: number): number {
  let c = Math.floor((v - min) * scale);
  if (!(c >= 0)) c = 0; // also catches −Infinity
  if (c > SKETCH_CELLS - 1) c = SKETCH_CELLS - 1;
  while (c > 0 && v < cellEdge(min, width, c)) c--;
  while (c < SKETCH_CELLS - 1 && v >= cellEdge(min, width, c + 1)) c++;
  return c;
}

/** Rows per pass of the sketch and the binning: a 64-row slab of 784 float32 features (200 KB) stays in L2. */
const ROW_TILE = 64;

/**
 * Counts a row-major block on the fixed sketch grid. Counts from several
 * workers, computed with the same (max-reduced) ranges, add up to the counts
 * of the whole data.
 *
 * @param ranges the reduced output of {@link localRanges} (length 2·cols).
 * @returns length cols·(SKETCH_CELLS + 1): `[f·(CELLS+1) + c]` counts the values of
 *   feature f in cell c (cell 0 when max == min), `[f·(CELLS+1) + CELLS]` counts NaN.
 * @throws ArgumentError when the arrays are shorter than rows·cols or 2·cols.
 */
export function localSketch(x: Float32Array, rows: number, cols: number, ranges: Float64Array): Float64Array {
  checkBlock(x, rows, cols);
  requireLength('ranges', ranges, 2 * cols);
  const counts = new Float64Array(cols * SLOTS);
  const min = new Float64Array(cols);
  const width = new Float64Array(cols);
  const scale = new Float64Array(cols);
  for (let f = 0; f < cols; f++) {
    min[f] = -ranges[2 * f];
    const max = ranges[2 * f + 1];
    // width 0 marks "no spread": a constant feature, or one with no finite value.
    width[f] = max > min[f] ? max - min[f] : 0;
    scale[f] = width[f] > 0 ? SKETCH_CELLS / width[f] : 0;
  }
  // Row tiles: a feature-outer pass over all rows would stride through the whole block per feature.
  for (let r0 = 0; r0 < rows; r0 += ROW_TILE) {
    const r1 = Math.min(rows, r0 + ROW_TILE);
    for (let f = 0; f < cols; f++) sketchTile(x, cols, f, r0, r1, min[f], width[f], scale[f], counts, f * SLOTS);
  }
  return counts;
}

/** Counts rows r0..r1−1 of feature f; a top-level function so V8 optimizes the loop on its own. */
function sketchTile(
  x: Float32Array, cols: number, f: number, r0: number, r1: number,
  min: number, width: number, scale: number, counts: Float64Array, base: number,
): void {
  for (let r = r0; r < r1; r++) {
    const v = x[r * cols + f];
    if (v !== v) counts[base + SKETCH_CELLS]++;
    else if (width === 0) counts[base]++;
    else counts[base + cellOf(v, min, width, scale)]++;
  }
}

/**
 * Cut points of every feature. Feature f has k_f value bins; the bin code of a
 * value v is 1 + (number of thresholds ≤ v), and code 0 means missing (NaN), so
 * feature f uses codes 0..k_f.
 */
export interface BinCuts {
  /** Number of features. */
  cols: number;
  /** Codes per feature including the missing code 0; in [2, 256], so k_f ≤ maxBins − 1. */
  maxBins: number;
  /** Per feature, strictly ascending finite thresholds, length k_f − 1. */
  thresholds: Float64Array[];
}

/**
 * Derives the cut points from summed sketch counts; every worker gets the same
 * cuts from the same sums.
 *
 * Per feature: when the non-empty cells number at most maxBins − 1, each gets its
 * own bin (so integer pixels 0..254 on [0, 254] get one bin per value). Otherwise
 * greedy equal-frequency over non-empty cells: a bin closes once its count reaches
 * the target and another non-empty cell follows; the threshold is that next cell's
 * lower edge. The target is the count not yet in a closed bin divided by the bins
 * still available, recomputed at each bin's start, so one heavy value (a pixel that
 * is 0 in 80% of images) does not starve the rest of bins; a bin also closes early
 * when the cells left would otherwise fit one per bin.
 *
 * @param counts summed {@link localSketch} counts (length cols·(SKETCH_CELLS + 1)).
 * @param ranges max-reduced {@link localRanges} (length 2·cols).
 * @param maxBins codes per feature including missing, in [2, 256].
 * @throws ArgumentError for short arrays or maxBins out of range.
 */
export function cutsFromSketch(counts: Float64Array, ranges: Float64Array, cols: number, maxBins: number): BinCuts {
  requireInt('cols', cols, 0, 0x7fffffff);
  requireInt('maxBins', maxBins, 2, 256);
  requireLength('counts', counts, cols * SLOTS);
  requireLength('ranges', ranges, 2 * cols);
  const thresholds: Float64Array[] = [];
  const nonEmpty = new Int32Array(SKETCH_CELLS);
  for (let f = 0; f < cols; f++) {
    const min = -ranges[2 * f];
    const max = ranges[2 * f + 1];
    if (!(max > min)) {
      thresholds.push(new Float64Array(0));
      continue;
    }
    thresholds.push(featureCuts(counts, f * SLOTS, maxBins - 1, min, max - min, nonEmpty));
  }
  return { cols, maxBins, thresholds };
}

/** Cut points of one feature with at most `maxValueBins` value bins. */
function featureCuts(counts: Float64Array, base: number, maxValueBins: number, min: number, width: number, nonEmpty: Int32Array): Float64Array {
  let n = 0;
  let remaining = 0;
  for (let c = 0; c < SKETCH_CELLS; c++) {
    const k = counts[base + c];
    if (k > 0) {
      nonEmpty[n++] = c;
      remaining += k;
    }
  }
  const cuts: number[] = [];
  let binsLeft = maxValueBins;
  let target = remaining / binsLeft;
  let acc = 0;
  for (let i = 0; i + 1 < n && binsLeft > 1; i++) {
    const k = counts[base + nonEmpty[i]];
    acc += k;
    const cellsAfter = n - i - 1;
    if (acc >= target || cellsAfter < binsLeft) {
      cuts.push(cellEdge(min, width, nonEmpty[i + 1]));
      remaining -= acc;
      acc = 0;
      binsLeft--;
      target = remaining / binsLeft;
    }
  }
  return Float64Array.from(cuts);
}

/**
 * The bin code of value v of feature f: 0 for NaN, else 1 + (thresholds ≤ v).
 *
 * @example binOf(cuts, 3, 0.5); // in 1..k_3
 */
export function binOf(cuts: BinCuts, f: number, v: number): number {
  if (v !== v) return 0;
  return 1 + countAtMost(cuts.thresholds[f], v);
}

/** Number of thresholds ≤ v, by binary search. */
function countAtMost(t: Float64Array, v: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Grid cells of the per-feature lookup table that narrows each binary search. */
const LUT_CELLS = 2048;

/**
 * Bins a row-major block into column blocks of uint8 codes.
 *
 * A plain binary search over 255 thresholds cost about 3 s for 60,000 × 784
 * here (mispredicted branches); a lookup table on a uniform grid over each
 * feature's thresholds narrows the search to zero or one step, ≈ 0.7 s.
 *
 * @returns length cols·rows: `out[f·rows + r]` = binOf(cuts, f, x[r·cols + f]).
 * @throws ArgumentError when cuts.cols ≠ cols or x is short.
 */
export function binColumns(x: Float32Array, rows: number, cols: number, cuts: BinCuts): Uint8Array {
  checkBlock(x, rows, cols);
  if (cuts.cols !== cols) throw new ArgumentError(`'cuts.cols' is ${cuts.cols} but the data has ${cols} columns`);
  const out = new Uint8Array(cols * rows);
  const luts = new Uint16Array(cols * (LUT_CELLS + 1));
  const invWidth = new Float64Array(cols);
  for (let f = 0; f < cols; f++) invWidth[f] = buildLut(cuts.thresholds[f], luts.subarray(f * (LUT_CELLS + 1), (f + 1) * (LUT_CELLS + 1)));
  for (let r0 = 0; r0 < rows; r0 += ROW_TILE) {
    const r1 = Math.min(rows, r0 + ROW_TILE);
    for (let f = 0; f < cols; f++) {
      binTile(x, cols, f, r0, r1, cuts.thresholds[f], luts, f * (LUT_CELLS + 1), invWidth[f], out, f * rows);
    }
  }
  return out;
}

/**
 * lut[c] = number of thresholds ≤ grid edge c of the uniform grid over
 * [t[0], t[n−1]]: a hint only; binTile corrects it, so rounding here cannot
 * change a code.
 *
 * @returns LUT_CELLS / (t[n−1] − t[0]), the grid's cells per unit (0 when n < 2).
 */
function buildLut(t: Float64Array, lut: Uint16Array): number {
  const n = t.length;
  if (n < 2) return 0;
  const t0 = t[0];
  const width = t[n - 1] - t0;
  let k = 0;
  for (let c = 0; c <= LUT_CELLS; c++) {
    const edge = t0 + (c / LUT_CELLS) * width;
    while (k < n && t[k] <= edge) k++;
    lut[c] = k;
  }
  return LUT_CELLS / width;
}

/** Bins rows r0..r1−1 of feature f (code = 1 + thresholds ≤ v, 0 for NaN). */
function binTile(
  x: Float32Array, cols: number, f: number, r0: number, r1: number, t: Float64Array,
  lut: Uint16Array, lutBase: number, inv: number, out: Uint8Array, base: number,
): void {
  const n = t.length;
  const first = n > 0 ? t[0] : Infinity;
  const last = n > 0 ? t[n - 1] : Infinity;
  for (let r = r0; r < r1; r++) {
    const v = x[r * cols + f];
    if (v !== v) {
      out[base + r] = 0;
      continue;
    }
    if (!(v >= first)) {
      out[base + r] = 1;
      continue;
    }
    if (v >= last) {
      out[base + r] = n + 1;
      continue;
    }
    // Here n ≥ 2 and t[0] ≤ v < t[n−1], so the grid applies.
    let c = Math.floor((v - first) * inv);
    if (c > LUT_CELLS - 1) c = LUT_CELLS - 1;
    let lo = lut[lutBase + c];
    let hi = lut[lutBase + c + 1];
    // Widen the hint until t[lo−1] ≤ v < t[hi], then search inside it.
    while (lo > 0 && t[lo - 1] > v) lo--;
    while (hi < n && t[hi] <= v) hi++;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    out[base + r] = lo + 1;
  }
}

/** JSON form of {@link BinCuts}. */
export interface BinCutsJson {
  cols: number;
  maxBins: number;
  thresholds: number[][];
}

/** Plain-array form of the cuts for a model file; numbers round-trip exactly through JSON. */
export function cutsToJson(c: BinCuts): BinCutsJson {
  return { cols: c.cols, maxBins: c.maxBins, thresholds: c.thresholds.map((t) => Array.from(t)) };
}

/**
 * Reads cuts written by {@link cutsToJson}.
 *
 * @throws ArgumentError naming the field (`cuts.thresholds[3][7]`) when the shape
 *   is wrong, a threshold is not finite, or thresholds are not strictly ascending.
 */
export function cutsFromJson(o: unknown): BinCuts {
  if (typeof o !== 'object' || o === null) throw new ArgumentError(`'cuts' must be an object, got ${o === null ? 'null' : typeof o}`);
  const rec = o as Record<string, unknown>;
  const cols = rec.cols;
  const maxBins = rec.maxBins;
  if (typeof cols !== 'number') throw new ArgumentError(`'cuts.cols' must be a number, got ${typeof cols}`);
  requireInt('cuts.cols', cols, 0, 0x7fffffff);
  if (typeof maxBins !== 'number') throw new ArgumentError(`'cuts.maxBins' must be a number, got ${typeof maxBins}`);
  requireInt('cuts.maxBins', maxBins, 2, 256);
  const raw = rec.thresholds;
  if (!Array.isArray(raw) || raw.length !== cols) {
    throw new ArgumentError(`'cuts.thresholds' must be an array of ${cols} arrays, got ${Array.isArray(raw) ? `length ${raw.length}` : typeof raw}`);
  }
  const thresholds = raw.map((t: unknown, f) => {
    if (!Array.isArray(t)) throw new ArgumentError(`'cuts.thresholds[${f}]' must be an array, got ${typeof t}`);
    if (t.length > maxBins - 2) throw new ArgumentError(`'cuts.thresholds[${f}]' has ${t.length} thresholds; maxBins ${maxBins} allows at most ${maxBins - 2}`);
    const out = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const v: unknown = t[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`'cuts.thresholds[${f}][${i}]' must be a finite number, got ${String(v)}`);
      if (i > 0 && !(v > out[i - 1])) throw new ArgumentError(`'cuts.thresholds[${f}][${i}]' = ${v} is not above the previous threshold ${out[i - 1]}`);
      out[i] = v;
    }
    return out;
  });
  return { cols, maxBins, thresholds };
}

function checkBlock(x: Float32Array, rows: number, cols: number): void {
  requireInt('rows', rows, 0, 0x7fffffff);
  requireInt('cols', cols, 0, 0x7fffffff);
  requireLength('x', x, rows * cols);
}
