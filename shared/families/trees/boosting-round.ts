import { PsHandle } from '../../ps/handle';
import { BinnedShard, ScratchArrays, sumHistograms } from './binned-shard';
import { GradSplitParams, HistLayout, Tree, addNode, bestGradSplit, buildGradHist, emptyTree, gradLeafWeight, nodeStats, partitionRows, setSplit, subtractHist } from './kernels';

/** Longest stretch of histogram building between yields to the event loop, ms. */
const YIELD_EVERY_MS = 200;

/** What one call grows: the trees of some of a round's K outputs, level by level, together. */
export interface RoundSettings {
  /** Outputs of the round (K classes for softmax, else 1). */
  outputs: number;
  /** The outputs whose trees grow now, together (one histogram round per level serves them all). */
  group: readonly number[];
  maxDepth: number;
  learningRate: number;
  split: GradSplitParams;
  /** The features each of the K trees may split on (colsampleByTree). */
  layouts: HistLayout[];
  /** The power of two the gradients were quantized with. */
  scale: number;
  /** Parameter-server key prefix, unique per round. */
  prefix: string;
  worldSize: number;
  /** Told the rows × features added and the seconds taken by each level's histograms. */
  onHistograms(cells: number, seconds: number): void;
  /** Histogram memory reused across levels: slot 0 this rank's, slots 1 and 2 the summed levels in turn. */
  scratch: ScratchArrays;
}

/** A node waiting for its histogram at the current level. */
interface OpenNode {
  output: number;
  id: number;
  /** The node's local rows. */
  rows: Uint32Array;
  /** Global gradient and hessian sums; NaN until known (the roots learn them from their histograms). */
  G: number;
  H: number;
  hist: Float64Array | null;
  /** False for a node built only so that its sibling can be derived: it becomes a leaf. */
  splits: boolean;
}

/** Two children of one split: the one with the smaller hessian sum is built, the other is the parent minus it. */
interface Pair {
  parentHist: Float64Array;
  build: OpenNode;
  derive: OpenNode;
}

/**
 * Grows the trees of a group of one boosting round's outputs level-wise (XGBoost's hist updater):
 * per level, every rank builds (g, h) histograms of its rows for the nodes
 * to build, the parameter server sums them exactly (quantized integers, as
 * int32), every rank derives the siblings by subtraction, picks the same
 * best splits from the same sums and moves its rows to the children.
 * Leaves add their value to the margins of their rows.
 *
 * @param g quantized gradients, class-major (`g[k * rows + r]`); zero for rows that sit the round out.
 * @param h quantized hessians, same layout.
 * @param margins updated in place, same layout.
 */
export async function growRound(ps: PsHandle, shard: BinnedShard, g: Float64Array, h: Float64Array, margins: Float64Array, s: RoundSettings): Promise<Tree[]> {
  const { rows } = shard;
  const trees = Array.from({ length: s.outputs }, () => emptyTree(1));
  const all = Uint32Array.from({ length: rows }, (_, i) => i);
  const leaf = (node: OpenNode, G: number, H: number): void => {
    const value = gradLeafWeight(G, H, s.split.lambda) * s.learningRate;
    trees[node.output].value[node.id] = value;
    const base = node.output * rows;
    for (let j = 0; j < node.rows.length; j++) margins[base + node.rows[j]] += value;
  };
  let roots: OpenNode[] = s.group.map((k) => ({ output: k, id: addNode(trees[k], [0]), rows: all, G: NaN, H: NaN, hist: null, splits: true }));
  let pairs: Pair[] = [];
  for (let depth = 0; roots.length + pairs.length > 0; depth++) {
    const built = [...roots, ...pairs.map((p) => p.build)];
    const sizes = built.map((n) => 2 * s.layouts[n.output].cells);
    const builtSize = sizes.reduce((a, b) => a + b, 0);
    const derivedSize = pairs.reduce((a, p) => a + p.parentHist.length, 0);
    const local = s.scratch.take(0, builtSize);
    // Summed histograms of this level, built nodes then derived siblings; the parents' level is the other slot.
    const level = s.scratch.take(1 + (depth % 2), builtSize + derivedSize);
    let at = 0;
    let cells = 0;
    let started = performance.now();
    let building = 0;
    for (let i = 0; i < built.length; i++) {
      const n = built[i];
      const base = n.output * rows;
      const t0 = performance.now();
      buildGradHist(shard.bins, rows, n.rows, n.rows.length, s.layouts[n.output], g.subarray(base, base + rows), h.subarray(base, base + rows), local, at);
      building += performance.now() - t0;
      at += sizes[i];
      cells += n.rows.length * s.layouts[n.output].features.length;
      // A level is seconds of work on a large shard: heartbeats and the connection's pings must get through.
      if (performance.now() - started > YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        started = performance.now();
      }
    }
    s.onHistograms(cells, building / 1000);
    // The scale keeps every sum within int32 (see int32Scale).
    // Back to gradient units as the sums arrive: dividing integers by a power of two is exact.
    const global = await sumHistograms(ps, s.worldSize, `${s.prefix}/d${depth}`, local, true, 2, 1 / s.scale, level.subarray(0, builtSize));
    at = 0;
    built.forEach((n, i) => {
      n.hist = global.subarray(at, at + sizes[i]);
      at += sizes[i];
    });
    for (const r of roots) [r.G, r.H] = nodeStats(r.hist!, 0, s.layouts[r.output], 2);
    at = builtSize;
    for (const p of pairs) {
      p.derive.hist = level.subarray(at, at + p.parentHist.length);
      at += p.parentHist.length;
      subtractHist(p.parentHist, 0, p.build.hist!, 0, p.parentHist.length, p.derive.hist, 0);
    }
    // Every rank visits the nodes in the same order (outputs, then tree order), so the trees come out alike.
    const open = [...roots, ...pairs.flatMap((p) => (p.build.id < p.derive.id ? [p.build, p.derive] : [p.derive, p.build]))];
    roots = [];
    pairs = [];
    for (const node of open) {
      const split = node.splits ? bestGradSplit(node.hist!, 0, s.layouts[node.output], s.split) : null;
      if (!split) {
        leaf(node, node.G, node.H);
        continue;
      }
      const tree = trees[node.output];
      const left = addNode(tree, [gradLeafWeight(split.leftG, split.leftH, s.split.lambda) * s.learningRate]);
      const right = addNode(tree, [gradLeafWeight(split.rightG, split.rightH, s.split.lambda) * s.learningRate]);
      setSplit(tree, node.id, split.feature, split.bin, shard.cuts.thresholds[split.feature][split.bin - 1], split.missingLeft, split.gain, left, right);
      const lrows = new Uint32Array(node.rows.length);
      const rrows = new Uint32Array(node.rows.length);
      const nl = partitionRows(shard.bins, rows, node.rows, node.rows.length, split.feature, split.bin, split.missingLeft, lrows, rrows);
      // A child at the depth limit, or too light to have two children of minChildWeight, cannot split.
      const splits = (H: number) => depth + 1 < s.maxDepth && H >= 2 * s.split.minChildWeight;
      const l: OpenNode = { output: node.output, id: left, rows: lrows.subarray(0, nl), G: split.leftG, H: split.leftH, hist: null, splits: splits(split.leftH) };
      const r: OpenNode = { output: node.output, id: right, rows: rrows.subarray(0, node.rows.length - nl), G: split.rightG, H: split.rightH, hist: null, splits: splits(split.rightH) };
      if (!l.splits && !r.splits) {
        // Both are leaves now: no histogram needed.
        leaf(l, l.G, l.H);
        leaf(r, r.G, r.H);
        continue;
      }
      // The child with the smaller hessian sum is built; the other is the parent minus it (ties: the left one).
      const [small, large] = l.H <= r.H ? [l, r] : [r, l];
      pairs.push({ parentHist: node.hist!, build: small, derive: large });
    }
  }
  return s.group.map((k) => trees[k]);
}
