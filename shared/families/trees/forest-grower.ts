import { BinCuts, HistLayout, ImpurityCriterion, Tree, addNode, bestImpuritySplit, buildClassHist, buildStatHist, hash32, layoutOf, partitionRows, sampleFeatures, setSplit } from './kernels';

/** Rows a forest grows on: local shard rows, or rows gathered from every rank for a small node. */
export interface RowSet {
  /** Column blocks: `bins[f * rows + r]`. */
  bins: Uint8Array;
  rows: number;
  /** Class ids (classification) or labels quantized to integers (regression). */
  label: Float64Array;
  /** Bootstrap weight of each row in each tree of the pass: `weights[t][r]`. */
  weights: Float64Array[];
  /** Regression: per tree, each row's [w, w·y, w·y²], made on first use. */
  moments?: Map<number, Float64Array>;
}

/** How the trees of a pass grow. */
export interface ForestSettings {
  criterion: ImpurityCriterion;
  /** Stats per histogram cell: the class count, or 3 for variance ([w, Σw·y, Σw·y²]). */
  numStats: number;
  /** Features each node draws. */
  featuresPerNode: number;
  cols: number;
  cuts: BinCuts;
  maxDepth: number;
  minSamplesLeaf: number;
  seed: number;
  /** Global index of each tree of the pass (seeds its feature draws). */
  treeIds: number[];
  /** The power of two regression labels were quantized with (1 for classes). */
  labelScale: number;
}

/** A node to grow: its rows in the row set, its summed stats and its place in its tree. */
export interface GrowNode {
  /** Tree within the pass. */
  t: number;
  id: number;
  /** A name of the node that does not depend on how the tree was numbered: seeds its feature draw. */
  label: number;
  depth: number;
  rows: Uint32Array;
  /** Global stats of the node (class weights, or [w, Σw·y, Σw·y²]). */
  stats: Float64Array;
}

/** Sums local histograms across ranks (the parameter server), or returns them as they are (rows held whole). */
export type HistReducer = (local: Float64Array, depth: number) => Promise<Float64Array>;

/** Told the rows × features added and the seconds taken by each level's histograms. */
export type HistObserver = (cells: number, seconds: number) => void;

export function nodeWeight(s: ForestSettings, stats: Float64Array): number {
  if (s.criterion === 'variance') return stats[0];
  let w = 0;
  for (let k = 0; k < stats.length; k++) w += stats[k];
  return w;
}

/** A leaf's outputs: class probabilities, or the mean label. */
export function leafValue(s: ForestSettings, stats: Float64Array): number[] {
  if (s.criterion === 'variance') return [stats[0] > 0 ? stats[1] / stats[0] / s.labelScale : 0];
  const w = nodeWeight(s, stats);
  return [...stats].map((v) => (w > 0 ? v / w : 1 / stats.length));
}

function isPure(s: ForestSettings, stats: Float64Array): boolean {
  if (s.criterion === 'variance') return false;
  let nonZero = 0;
  for (let k = 0; k < stats.length; k++) if (stats[k] > 0) nonZero++;
  return nonZero <= 1;
}

/** Whether a node is a leaf without looking at its histogram: at the depth limit, too light to split, or pure. */
export function leafNow(s: ForestSettings, node: GrowNode): boolean {
  return node.depth >= s.maxDepth || nodeWeight(s, node.stats) < 2 * s.minSamplesLeaf || isPure(s, node.stats);
}

function featuresOf(s: ForestSettings, node: GrowNode): Uint32Array {
  return sampleFeatures(s.seed, s.treeIds[node.t], node.label, s.cols, s.featuresPerNode);
}

/**
 * Grows open nodes level by level: every level builds one histogram per
 * node over the features it drew (over every tree of the pass at once),
 * reduces them with `reduce`, splits each node on the best impurity
 * decrease and moves its rows to the children. Nodes that `divert` claims
 * (small ones, finished elsewhere) leave the loop as they are.
 */
export async function growLevels(
  set: RowSet, trees: Tree[], open: GrowNode[], s: ForestSettings, reduce: HistReducer, divert: (node: GrowNode) => boolean, observe: HistObserver,
): Promise<void> {
  for (let depth = 0; open.length > 0; depth++) {
    const build: { node: GrowNode; layout: HistLayout; at: number }[] = [];
    let size = 0;
    for (const node of open) {
      if (leafNow(s, node)) continue;
      if (divert(node)) continue;
      const layout = layoutOf(s.cuts, featuresOf(s, node));
      build.push({ node, layout, at: size });
      size += layout.cells * s.numStats;
    }
    if (build.length === 0) return;
    const local = new Float64Array(size);
    const started = performance.now();
    let cells = 0;
    for (const { node, layout, at } of build) {
      cells += node.rows.length * layout.features.length;
      const w = set.weights[node.t];
      if (s.criterion === 'variance') buildStatHist(set.bins, set.rows, node.rows, node.rows.length, layout, rowMoments(set, node.t), 3, local, at);
      else buildClassHist(set.bins, set.rows, node.rows, node.rows.length, layout, w, set.label, s.numStats, local, at);
    }
    observe(cells, (performance.now() - started) / 1000);
    const hist = await reduce(local, depth);
    const next: GrowNode[] = [];
    for (const { node, layout, at } of build) {
      const split = bestImpuritySplit(hist, at, layout, s.criterion, s.numStats, s.minSamplesLeaf);
      if (!split) continue;
      const tree = trees[node.t];
      const left = addNode(tree, leafValue(s, split.left));
      const right = addNode(tree, leafValue(s, split.right));
      setSplit(tree, node.id, split.feature, split.bin, s.cuts.thresholds[split.feature][split.bin - 1], split.missingLeft, split.gain, left, right);
      const lrows = new Uint32Array(node.rows.length);
      const rrows = new Uint32Array(node.rows.length);
      const nl = partitionRows(set.bins, set.rows, node.rows, node.rows.length, split.feature, split.bin, split.missingLeft, lrows, rrows);
      next.push(
        { t: node.t, id: left, label: hash32(node.label, 1, node.depth, 0x1ef7), depth: node.depth + 1, rows: lrows.subarray(0, nl), stats: split.left },
        { t: node.t, id: right, label: hash32(node.label, 2, node.depth, 0x1ef7), depth: node.depth + 1, rows: rrows.subarray(0, node.rows.length - nl), stats: split.right },
      );
    }
    open = next;
    // A long local build must not hold off the worker's heartbeats.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Each row's [w, w·y, w·y²] in tree t, for the variance histogram (integers: the labels are quantized). */
function rowMoments(set: RowSet, t: number): Float64Array {
  set.moments ??= new Map();
  let m = set.moments.get(t);
  if (!m) {
    const w = set.weights[t];
    m = new Float64Array(3 * set.rows);
    for (let r = 0; r < set.rows; r++) {
      const y = set.label[r];
      m[3 * r] = w[r];
      m[3 * r + 1] = w[r] * y;
      m[3 * r + 2] = w[r] * y * y;
    }
    set.moments.set(t, m);
  }
  return m;
}
