import { AbortedError, DataError } from '../../errors';
import { emptySums } from '../../metric-sums';
import { getLarge, putLarge, takeLarge } from '../../ps/collectives';
import { ProgramContext, ProgramJob } from '../../program/types';
import { BinnedShard, binShard, maxAcross, sumExactly, sumHistograms } from './binned-shard';
import { EnsembleProgram } from './ensemble-program';
import { ForestSettings, GrowNode, HistObserver, RowSet, growLevels, leafNow, leafValue, nodeWeight } from './forest-grower';
import { ImpurityCriterion, Tree, addNode, emptyTree, leafOfBinned, poissonOne, treeFromJson, treeToJson } from './kernels';
import { ForestSpec } from './spec';

/**
 * Nodes of at most this bootstrap weight are finished by one rank (PLANET's
 * in-memory build): their rows are gathered there and the subtree grown
 * whole. Below it a node's histogram costs more to send than its rows, and
 * the deep levels of an unlimited tree would otherwise each be a round.
 */
export const LOCAL_BUILD_WEIGHT = 4096;

/** Bin codes packed per float64 (6 bytes: integers below 2^48 are exact). */
const CODES_PER_VALUE = 6;

/** The criterion a forest job splits on: the spec's, else gini for classes and variance for a number. */
export function forestCriterion(spec: ForestSpec, classes: readonly number[] | null): ImpurityCriterion {
  const criterion = spec.criterion ?? (classes ? 'gini' : 'variance');
  if (criterion !== 'variance' && !classes) throw new DataError(`criterion '${criterion}' needs class labels; use 'variance' for a numeric label`);
  if (criterion === 'variance' && classes) throw new DataError("criterion 'variance' needs a numeric label; the label has classes");
  return criterion;
}

function featuresPerNode(spec: ForestSpec, cols: number, regression: boolean): number {
  const f = spec.featuresPerNode ?? (regression ? 'third' : 'sqrt');
  if (f === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(cols)));
  if (f === 'third') return Math.max(1, Math.floor(cols / 3));
  if (f === 'all') return cols;
  return Math.min(cols, f);
}

/** Writes one row's bin codes into `out` from `at`, 6 codes per float64. */
function packRow(bins: Uint8Array, rows: number, r: number, cols: number, out: Float64Array, at: number): void {
  for (let c = 0, v = 0; c < cols; c += CODES_PER_VALUE, v++) {
    let x = 0;
    for (let j = Math.min(cols, c + CODES_PER_VALUE) - 1; j >= c; j--) x = x * 256 + bins[j * rows + r];
    out[at + v] = x;
  }
}

function unpackRow(from: Float64Array, at: number, cols: number, bins: Uint8Array, rows: number, r: number): void {
  for (let c = 0, v = 0; c < cols; c += CODES_PER_VALUE, v++) {
    let x = from[at + v];
    for (let j = c; j < Math.min(cols, c + CODES_PER_VALUE); j++) {
      bins[j * rows + r] = x % 256;
      x = Math.floor(x / 256);
    }
  }
}

/** Sorted by weight, heaviest first, each small node goes to the least loaded rank (LPT): the same on every rank. */
function owners(small: GrowNode[], s: ForestSettings, worldSize: number): number[] {
  const load = new Array<number>(worldSize).fill(0);
  const owner = new Array<number>(small.length);
  const order = small.map((_, i) => i).sort((a, b) => nodeWeight(s, small[b].stats) - nodeWeight(s, small[a].stats) || a - b);
  for (const i of order) {
    let best = 0;
    for (let q = 1; q < worldSize; q++) if (load[q] < load[best]) best = q;
    owner[i] = best;
    load[best] += nodeWeight(s, small[i].stats);
  }
  return owner;
}

/** Width of a serialized tree node: feature, bin, threshold, missingLeft, left, right, gain, then the outputs. */
const NODE_FIELDS = 7;

function serializeTree(t: Tree): Float64Array {
  const n = t.feature.length;
  const w = NODE_FIELDS + t.numOutputs;
  const out = new Float64Array(n * w);
  for (let i = 0; i < n; i++) {
    out.set([t.feature[i], t.bin[i], t.threshold[i], t.missingLeft[i] ? 1 : 0, t.left[i], t.right[i], t.gain[i]], i * w);
    for (let k = 0; k < t.numOutputs; k++) out[i * w + NODE_FIELDS + k] = t.value[i * t.numOutputs + k];
  }
  return out;
}

/** Grafts a serialized subtree onto leaf `at` of `tree`: its root replaces the leaf, the rest is appended. */
function graft(tree: Tree, at: number, sub: Float64Array): void {
  const K = tree.numOutputs;
  const w = NODE_FIELDS + K;
  const n = sub.length / w;
  const base = tree.feature.length;
  const id = (j: number) => (j === 0 ? at : base + j - 1);
  for (let j = 1; j < n; j++) addNode(tree, sub.subarray(j * w + NODE_FIELDS, (j + 1) * w));
  for (let j = 0; j < n; j++) {
    const o = j * w;
    const node = id(j);
    if (j === 0) for (let k = 0; k < K; k++) tree.value[at * K + k] = sub[o + NODE_FIELDS + k];
    if (sub[o] < 0) continue;
    tree.feature[node] = sub[o];
    tree.bin[node] = sub[o + 1];
    tree.threshold[node] = sub[o + 2];
    tree.missingLeft[node] = sub[o + 3] === 1;
    tree.left[node] = id(sub[o + 4]);
    tree.right[node] = id(sub[o + 5]);
    tree.gain[node] = sub[o + 6];
  }
}

/** Adds a tree's leaf values to each row's summed outputs (row-major, K per row). */
function addLeafOutputs(tree: Tree, bins: Uint8Array, rows: number, K: number, outputs: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const leaf = leafOfBinned(tree, bins, rows, r) * K;
    for (let k = 0; k < K; k++) outputs[r * K + k] += tree.value[leaf + k];
  }
}

/**
 * Random forest on the fleet (Spark MLlib's level-wise trees, with
 * PLANET's in-memory build of small nodes). Trees grow `treesPerPass` at a
 * time: every level of every tree of the pass is one round of class (or
 * variance) histograms summed on the parameter server; a node light enough
 * is handed to one rank, which gathers its rows from the others, grows the
 * subtree whole and shares it. Bootstrap weights are Poisson(1) draws seeded
 * by (seed, tree, global row id), and all sums are of integers, so the
 * forest does not depend on the number of workers.
 */
export class ForestProgram extends EnsembleProgram {
  constructor(job: ProgramJob, private readonly spec: ForestSpec) {
    super(job, 'forest');
  }

  /** The trees grown so far: a checkpoint's part. */
  private grown: Tree[] = [];

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.grown.map(treeToJson)));
  }

  async run(ctx: ProgramContext): Promise<void> {
    const { spec } = this;
    const { ps, train } = ctx;
    const { rows, cols } = train;
    const classes = this.job.info.classes;
    const criterion = forestCriterion(spec, classes);
    const regression = criterion === 'variance';
    const K = regression ? 1 : classes!.length;
    const shard = await binShard(ps, train, spec.maxBins, 'forest/bins');
    const { label, labelScale } = await this.labels(ctx, regression);
    // A resumed attempt starts after the checkpoint's trees (rank 0's part; every rank grew the same).
    const trees: Tree[] = ctx.resume ? (JSON.parse(Buffer.from(ctx.resume.states[0]).toString('utf8')) as unknown[]).map((t) => treeFromJson(t, cols)) : [];
    this.grown = trees;
    const outputs = new Float64Array(rows * K);
    for (const tree of trees) addLeafOutputs(tree, shard.bins, rows, K, outputs);
    for (let first = trees.length; first < spec.trees; first += spec.treesPerPass) {
      if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');
      const started = process.hrtime.bigint();
      const treeIds = Array.from({ length: Math.min(spec.treesPerPass, spec.trees - first) }, (_, i) => first + i);
      const s: ForestSettings = {
        criterion, numStats: regression ? 3 : K, featuresPerNode: featuresPerNode(spec, cols, regression), cols, cuts: shard.cuts,
        maxDepth: spec.maxDepth, minSamplesLeaf: spec.minSamplesLeaf, seed: ctx.seed, treeIds, labelScale,
      };
      const pass = await this.growPass(ctx, shard, label, s, K, `forest/p${first}`);
      trees.push(...pass);
      // Training loss of the forest so far, from each row's summed leaf outputs.
      for (const tree of pass) addLeafOutputs(tree, shard.bins, rows, K, outputs);
      const sums = emptySums();
      for (let r = 0; r < rows; r++) {
        sums.count++;
        if (regression) sums.lossSum += (outputs[r] / trees.length - train.y[r]) ** 2;
        else sums.lossSum -= Math.log(Math.max(1e-15, outputs[r * K + train.y[r]] / trees.length));
      }
      ctx.metrics.step(Number(process.hrtime.bigint() - started) / 1e9, rows * treeIds.length);
      ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
      await ctx.progress(trees.length - 1, sums);
    }
    this.model = { kind: 'averaged', output: regression ? 'mean' : 'probabilities', outputs: K, base: [], trees, cuts: shard.cuts, numFeatures: cols };
  }

  /** Class ids, or labels quantized so that Σw·y² over every row stays an exact integer. */
  private async labels(ctx: ProgramContext, regression: boolean): Promise<{ label: Float64Array; labelScale: number }> {
    const y = ctx.train.y;
    if (!regression) return { label: Float64Array.from(y), labelScale: 1 };
    let top = 0;
    for (let r = 0; r < y.length; r++) top = Math.max(top, Math.abs(y[r]));
    const [yMax] = await maxAcross(ctx.ps, 'forest/label/max', Float64Array.of(top));
    const totalRows = ctx.trainShardRows.reduce((a, b) => a + b, 0);
    // Bootstrap weights stay below 16 (a Poisson(1) draw of 16 has odds of 1e-14): Σw·y² ≤ 16·rows·(y·s)² ≤ 2^52.
    const bound = Math.min(2 ** 23, Math.sqrt(2 ** 52 / (16 * totalRows)));
    const scale = yMax > 0 ? 2 ** Math.floor(Math.log2(bound / yMax)) : 1;
    return { label: Float64Array.from(y, (v) => Math.round(v * scale)), labelScale: scale };
  }

  /** Grows one pass of trees: level-wise on the fleet, then small nodes whole on their owners. */
  private async growPass(ctx: ProgramContext, shard: BinnedShard, label: Float64Array, s: ForestSettings, K: number, prefix: string): Promise<Tree[]> {
    const { rows } = shard;
    const T = s.treeIds.length;
    const weights = s.treeIds.map((t) => Float64Array.from({ length: rows }, (_, r) => poissonOne(s.seed, t, ctx.trainOffset + r)));
    const local: RowSet = { bins: shard.bins, rows, label, weights };
    // Root stats: summed exactly across ranks.
    const rootStats = new Float64Array(T * s.numStats);
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < rows; r++) {
        const w = weights[t][r];
        if (w === 0) continue;
        if (s.criterion === 'variance') {
          rootStats[t * 3] += w;
          rootStats[t * 3 + 1] += w * label[r];
          rootStats[t * 3 + 2] += w * label[r] * label[r];
        } else rootStats[t * s.numStats + label[r]] += w;
      }
    }
    const summed = await sumExactly(ctx.ps, `${prefix}/roots`, rootStats);
    const trees = s.treeIds.map(() => emptyTree(K));
    const roots: GrowNode[] = s.treeIds.map((treeId, t) => {
      const stats = summed.slice(t * s.numStats, (t + 1) * s.numStats);
      const id = addNode(trees[t], leafValue(s, stats));
      const inBag = Uint32Array.from({ length: rows }, (_, r) => r).filter((r) => weights[t][r] > 0);
      return { t, id, label: treeId + 1, depth: 0, rows: inBag, stats };
    });
    const small: GrowNode[] = [];
    // Class weights are small integers (int32 on the wire); variance sums of squared labels need float64.
    const reduce = (hist: Float64Array, depth: number) => sumHistograms(ctx.ps, ctx.worldSize, `${prefix}/d${depth}`, hist, s.criterion !== 'variance', s.numStats);
    await growLevels(local, trees, roots, s, reduce, (node) => {
      if (nodeWeight(s, node.stats) > LOCAL_BUILD_WEIGHT) return false;
      small.push(node);
      return true;
    }, ctx.metrics.histogram);
    if (small.length > 0) await this.finishSmall(ctx, shard, local, trees, small, s, prefix);
    return trees;
  }

  /** PLANET's in-memory build: each small node's rows go to its owner, which grows the subtree; every rank grafts every subtree. */
  private async finishSmall(ctx: ProgramContext, shard: BinnedShard, local: RowSet, trees: Tree[], small: GrowNode[], s: ForestSettings, prefix: string): Promise<void> {
    const { ps } = ctx;
    const { rows, cols } = shard;
    const packed = Math.ceil(cols / CODES_PER_VALUE);
    const rowWidth = 2 + packed;
    const owner = owners(small, s, ctx.worldSize);
    // What this rank sends each owner: its rows of that owner's nodes, once each, and which node holds which.
    const parts = Array.from({ length: ctx.worldSize }, () => ({ rowOf: new Map<number, number>(), members: [] as number[] }));
    small.forEach((node, i) => {
      const part = parts[owner[i]];
      for (const r of node.rows) {
        let at = part.rowOf.get(r);
        if (at === undefined) part.rowOf.set(r, (at = part.rowOf.size));
        part.members.push(i, at);
      }
    });
    const encode = (q: number): Float64Array => {
      const { rowOf, members } = parts[q];
      const out = new Float64Array(2 + rowOf.size * rowWidth + members.length);
      out[0] = rowOf.size;
      out[1] = members.length / 2;
      for (const [r, at] of rowOf) {
        const o = 2 + at * rowWidth;
        out[o] = ctx.trainOffset + r;
        out[o + 1] = local.label[r];
        packRow(shard.bins, rows, r, cols, out, o + 2);
      }
      out.set(members, 2 + rowOf.size * rowWidth);
      return out;
    };
    const sends: Promise<unknown>[] = [];
    // Every rank that owns a node hears from every other rank (maybe of no rows); a rank that owns none, from nobody.
    for (let q = 0; q < ctx.worldSize; q++) if (q !== ctx.rank && owner.includes(q)) sends.push(putLarge(ps, `${prefix}/rows/${q}/${ctx.rank}`, encode(q)));
    await Promise.all(sends);
    const mine = small.map((_, i) => i).filter((i) => owner[i] === ctx.rank);
    const inbox: Float64Array[] = [];
    if (mine.length > 0) {
      for (let q = 0; q < ctx.worldSize; q++) inbox.push(q === ctx.rank ? encode(q) : await takeLarge(ps, `${prefix}/rows/${ctx.rank}/${q}`));
    }
    const grown = new Map<number, Float64Array>();
    const toRelease: string[] = [];
    if (mine.length > 0) {
      const subtrees = await this.growOwned(inbox, small, mine, s, cols, rowWidth, trees[0].numOutputs, ctx.metrics.histogram);
      mine.forEach((i, j) => grown.set(i, subtrees[j]));
      for (const keys of await Promise.all(mine.map((i) => putLarge(ps, `${prefix}/sub/${i}`, grown.get(i)!)))) toRelease.push(...keys);
    }
    const subs = await Promise.all(small.map(async (_, i) => {
      if (owner[i] === ctx.rank) return grown.get(i)!;
      const { data, keys } = await getLarge(ps, `${prefix}/sub/${i}`);
      toRelease.push(...keys);
      return data;
    }));
    // Every rank grafts every subtree in the same order, so the trees are numbered alike.
    small.forEach((node, i) => graft(trees[node.t], node.id, subs[i]));
    await ps.release(toRelease);
  }

  /** Grows this rank's small nodes from the rows every rank sent (its own included). */
  private async growOwned(received: Float64Array[], small: GrowNode[], mine: number[], s: ForestSettings, cols: number, rowWidth: number, K: number, observe: HistObserver): Promise<Float64Array[]> {
    // Rows of a node, by (sender, position); one row set for all of this rank's nodes.
    let total = 0;
    for (const msg of received) total += msg[0];
    const bins = new Uint8Array(total * cols);
    const label = new Float64Array(total);
    const globalRow = new Float64Array(total);
    const nodeRows = new Map<number, number[]>(mine.map((i) => [i, []]));
    let base = 0;
    for (const msg of received) {
      const n = msg[0];
      for (let j = 0; j < n; j++) {
        const o = 2 + j * rowWidth;
        globalRow[base + j] = msg[o];
        label[base + j] = msg[o + 1];
      }
      // Unpacked once all rows are counted: column blocks need the final row count.
      base += n;
    }
    base = 0;
    for (const msg of received) {
      const n = msg[0];
      for (let j = 0; j < n; j++) unpackRow(msg, 2 + j * rowWidth + 2, cols, bins, total, base + j);
      const members = msg.subarray(2 + n * rowWidth);
      for (let m = 0; m < members.length; m += 2) nodeRows.get(members[m])?.push(base + members[m + 1]);
      base += n;
    }
    // Bootstrap weights of the gathered rows, for the trees this rank has nodes of.
    const used = new Set(mine.map((i) => small[i].t));
    const weights = s.treeIds.map((t, k) => (used.has(k) ? Float64Array.from(globalRow, (g) => poissonOne(s.seed, t, g)) : new Float64Array(0)));
    const set: RowSet = { bins, rows: total, label, weights };
    const out: Float64Array[] = [];
    for (const i of mine) {
      const node = small[i];
      const sub = emptyTree(K);
      // Only this node's tree is grown here; the other slots stay empty.
      const subtrees: Tree[] = [];
      subtrees[node.t] = sub;
      const root: GrowNode = { ...node, id: addNode(sub, leafValue(s, node.stats)), rows: Uint32Array.from(nodeRows.get(i)!) };
      if (!leafNow(s, root)) await growLevels(set, subtrees, [root], s, async (hist) => hist, () => false, observe);
      out.push(serializeTree(sub));
    }
    return out;
  }
}

