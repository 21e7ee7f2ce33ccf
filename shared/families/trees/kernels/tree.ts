import { ArgumentError } from '../../../errors';
import { requireInt } from './argument-checks';

/**
 * A decision tree as flat arrays (JSON-friendly). Node 0 is the root; every
 * child index is greater than its parent's.
 *
 * @example
 * const t = emptyTree(1);
 * const root = addNode(t, [0]);
 * const l = addNode(t, [-0.3]); const r = addNode(t, [0.4]);
 * setSplit(t, root, 5, 17, cuts.thresholds[5][16], false, 12.5, l, r);
 */
export interface Tree {
  /** Per node: split feature, or −1 for a leaf. */
  feature: number[];
  /** Split bin (value bins ≤ bin go left); 0 for leaves. */
  bin: number[];
  /** Raw-value threshold: v < threshold goes left (= cuts.thresholds[feature][bin − 1]); 0 for leaves. */
  threshold: number[];
  /** Whether missing values (NaN, bin code 0) go left. */
  missingLeft: boolean[];
  /** Left child index, −1 for a leaf. */
  left: number[];
  /** Right child index, −1 for a leaf. */
  right: number[];
  /** Node outputs, numOutputs per node (gbdt: 1 margin; forest: class probabilities or the mean). */
  value: number[];
  /** Outputs per node, ≥ 1. */
  numOutputs: number;
  /** Per node: split gain (0 for leaves), for feature importance. */
  gain: number[];
}

/**
 * A tree with no nodes.
 *
 * @throws ArgumentError when numOutputs is not an integer ≥ 1.
 */
export function emptyTree(numOutputs: number): Tree {
  requireInt('numOutputs', numOutputs, 1, 0xffff);
  return { feature: [], bin: [], threshold: [], missingLeft: [], left: [], right: [], value: [], numOutputs, gain: [] };
}

/**
 * Appends a leaf with the given outputs.
 *
 * @returns the new node's index.
 * @throws ArgumentError when value does not hold numOutputs numbers.
 */
export function addNode(tree: Tree, value: ArrayLike<number>): number {
  if (value.length !== tree.numOutputs) throw new ArgumentError(`'value' must hold ${tree.numOutputs} outputs, got ${value.length}`);
  const id = tree.feature.length;
  tree.feature.push(-1);
  tree.bin.push(0);
  tree.threshold.push(0);
  tree.missingLeft.push(false);
  tree.left.push(-1);
  tree.right.push(-1);
  tree.gain.push(0);
  for (let i = 0; i < value.length; i++) tree.value.push(value[i]);
  return id;
}

/**
 * Turns leaf `node` into a split on (feature, bin, threshold). The node keeps
 * its value (useful for prediction with a depth limit).
 *
 * @throws ArgumentError when node is not an existing leaf, or a child index is
 *   not an existing node greater than node.
 */
export function setSplit(
  tree: Tree, node: number, feature: number, bin: number, threshold: number, missingLeft: boolean,
  gain: number, left: number, right: number,
): void {
  const n = tree.feature.length;
  requireInt('node', node, 0, n - 1);
  if (tree.feature[node] >= 0) throw new ArgumentError(`'node' ${node} is already a split`);
  requireInt('feature', feature, 0, 0x7fffffff);
  requireInt('bin', bin, 1, 255);
  requireInt('left', left, node + 1, n - 1);
  requireInt('right', right, node + 1, n - 1);
  if (left === right) throw new ArgumentError(`'left' and 'right' are both node ${left}`);
  tree.feature[node] = feature;
  tree.bin[node] = bin;
  tree.threshold[node] = threshold;
  tree.missingLeft[node] = missingLeft;
  tree.gain[node] = gain;
  tree.left[node] = left;
  tree.right[node] = right;
}

/**
 * The leaf reached by local row r of a binned column block (`bins[f·rows + r]`):
 * code 0 follows missingLeft, codes ≤ bin go left.
 */
export function leafOfBinned(tree: Tree, bins: Uint8Array, rows: number, r: number): number {
  const { feature, bin, missingLeft, left, right } = tree;
  let n = 0;
  while (feature[n] >= 0) {
    const code = bins[feature[n] * rows + r];
    n = (code === 0 ? missingLeft[n] : code <= bin[n]) ? left[n] : right[n];
  }
  return n;
}

/**
 * The leaf reached by row r of a row-major block (`x[r·cols + f]`): NaN follows
 * missingLeft, v < threshold goes left. Agrees with leafOfBinned on data binned
 * with the cuts the thresholds came from.
 */
export function leafOfRow(tree: Tree, x: Float32Array, cols: number, r: number): number {
  const { feature, threshold, missingLeft, left, right } = tree;
  let n = 0;
  while (feature[n] >= 0) {
    const v = x[r * cols + feature[n]];
    n = (v !== v ? missingLeft[n] : v < threshold[n]) ? left[n] : right[n];
  }
  return n;
}

/** JSON form of a {@link Tree} (the same fields, as plain arrays). */
export type TreeJson = Tree;

/** A deep copy of the tree as plain arrays; numbers round-trip exactly through JSON. */
export function treeToJson(t: Tree): TreeJson {
  return {
    feature: t.feature.slice(), bin: t.bin.slice(), threshold: t.threshold.slice(), missingLeft: t.missingLeft.slice(),
    left: t.left.slice(), right: t.right.slice(), value: t.value.slice(), numOutputs: t.numOutputs, gain: t.gain.slice(),
  };
}

/**
 * Reads a tree written by {@link treeToJson}, checking it can be walked safely.
 *
 * @param numFeatures split features must be below this.
 * @throws ArgumentError naming the field (`tree.left[4]`) when an array has the
 *   wrong length or type, a child index is out of range, not above its parent or
 *   shared, or a feature is ≥ numFeatures.
 */
export function treeFromJson(o: unknown, numFeatures: number): Tree {
  if (typeof o !== 'object' || o === null) throw new ArgumentError(`'tree' must be an object, got ${o === null ? 'null' : typeof o}`);
  const rec = o as Record<string, unknown>;
  const numOutputs = rec.numOutputs;
  if (typeof numOutputs !== 'number') throw new ArgumentError(`'tree.numOutputs' must be a number, got ${typeof numOutputs}`);
  requireInt('tree.numOutputs', numOutputs, 1, 0xffff);
  const feature = numberArray(rec, 'feature', -1);
  const n = feature.length;
  if (n === 0) throw new ArgumentError(`'tree.feature' must have at least one node (the root)`);
  const bin = numberArray(rec, 'bin', n);
  const threshold = numberArray(rec, 'threshold', n);
  const left = numberArray(rec, 'left', n);
  const right = numberArray(rec, 'right', n);
  const value = numberArray(rec, 'value', n * numOutputs);
  const gain = numberArray(rec, 'gain', n);
  const ml = rec.missingLeft;
  if (!Array.isArray(ml) || ml.length !== n) throw new ArgumentError(`'tree.missingLeft' must be an array of ${n} booleans`);
  const missingLeft = ml.map((b: unknown, i) => {
    if (typeof b !== 'boolean') throw new ArgumentError(`'tree.missingLeft[${i}]' must be a boolean, got ${typeof b}`);
    return b;
  });
  const isChild = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const f = feature[i];
    if (f === -1) {
      if (left[i] !== -1 || right[i] !== -1) throw new ArgumentError(`'tree.left[${i}]'/'tree.right[${i}]' must be −1 for a leaf, got ${left[i]}, ${right[i]}`);
      continue;
    }
    requireInt(`tree.feature[${i}]`, f, 0, numFeatures - 1);
    requireInt(`tree.bin[${i}]`, bin[i], 1, 255);
    for (const [name, c] of [['left', left[i]], ['right', right[i]]] as const) {
      requireInt(`tree.${name}[${i}]`, c, i + 1, n - 1);
      if (isChild[c]) throw new ArgumentError(`'tree.${name}[${i}]' = ${c} is already another node's child`);
      isChild[c] = 1;
    }
  }
  return { feature, bin, threshold, missingLeft, left, right, value, numOutputs, gain };
}

/** A copy of rec[name] as finite numbers, of length `length` (−1: any). */
function numberArray(rec: Record<string, unknown>, name: string, length: number): number[] {
  const a = rec[name];
  if (!Array.isArray(a)) throw new ArgumentError(`'tree.${name}' must be an array, got ${typeof a}`);
  if (length >= 0 && a.length !== length) throw new ArgumentError(`'tree.${name}' must have ${length} elements, got ${a.length}`);
  return a.map((v: unknown, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`'tree.${name}[${i}]' must be a finite number, got ${String(v)}`);
    return v;
  });
}

/**
 * Summed split gain per feature over a forest or an ensemble (gain importance).
 *
 * @returns length numFeatures.
 * @throws ArgumentError when a tree splits on a feature ≥ numFeatures.
 */
export function featureGains(trees: Tree[], numFeatures: number): Float64Array {
  requireInt('numFeatures', numFeatures, 0, 0x7fffffff);
  const out = new Float64Array(numFeatures);
  trees.forEach((t, ti) => {
    for (let i = 0; i < t.feature.length; i++) {
      const f = t.feature[i];
      if (f < 0) continue;
      if (f >= numFeatures) throw new ArgumentError(`'trees[${ti}].feature[${i}]' = ${f} is not below ${numFeatures} features`);
      out[f] += t.gain[i];
    }
  });
  return out;
}
