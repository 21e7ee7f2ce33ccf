import { AbortedError, TfleetError } from '../../errors';
import { MetricSums } from '../../metric-sums';
import { ProgramContext, ProgramJob } from '../../program/types';
import { mixSeed } from '../../random';
import { ScratchArrays, binShard, int32Scale, maxAcross, meanExactly } from './binned-shard';
import { growRound } from './boosting-round';
import { EnsembleProgram } from './ensemble-program';
import { HistLayout, ObjectiveName, Tree, gradients, layoutOf, leafOfBinned, quantize, sampleFeatures, treeFromJson, treeToJson, unitUniform } from './kernels';
import { GbdtSpec } from './spec';

/** Stream ids of the seeded per-row and per-tree choices, so they never share random numbers. */
const STREAM = { validation: 0x7a11d, subsample: 0x5b5a, colsample: 0xc015 } as const;

/** The objective a gbdt job trains: the spec's, else from the data (classes → logistic or softmax). */
export function gbdtObjective(spec: GbdtSpec, classes: readonly number[] | null): ObjectiveName {
  if (spec.objective) return spec.objective;
  if (!classes) return 'squared';
  return classes.length === 2 ? 'logistic' : 'softmax';
}

/** Loss of one row at its margins (class-major margins of `rows` rows). */
function rowLoss(objective: ObjectiveName, margins: Float64Array, y: Float32Array, rows: number, K: number, r: number): number {
  // Squared error without the ½ of the gradient's loss: the number 'linear' reports too.
  if (objective === 'squared') return (margins[r] - y[r]) ** 2;
  if (objective === 'logistic') {
    const p = 1 / (1 + Math.exp(-margins[r]));
    return -Math.log(Math.max(1e-15, y[r] === 1 ? p : 1 - p));
  }
  let max = -Infinity;
  for (let k = 0; k < K; k++) max = Math.max(max, margins[k * rows + r]);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += Math.exp(margins[k * rows + r] - max);
  return -Math.log(Math.max(1e-15, Math.exp(margins[y[r] * rows + r] - max) / sum));
}

/**
 * Histogram memory a group of trees growing together may take at its
 * deepest level (float64 (g, h) cells of the built nodes and their
 * siblings): 256 MiB. Ten Fashion-MNIST trees at depth 5 would need about
 * 1 GiB, and filling that much new memory every level cost more than the
 * round trips that growing them together saves.
 */
const GROUP_HISTOGRAM_BYTES = 256 * 1024 * 1024;

/** The round's outputs in groups that grow together within {@link GROUP_HISTOGRAM_BYTES}; every rank makes the same groups. */
function outputGroups(K: number, maxDepth: number, layouts: HistLayout[]): number[][] {
  const deepest = 2 ** Math.min(maxDepth - 1, 20);
  const perTree = deepest * 2 * layouts[0].cells * 8;
  const size = Math.max(1, Math.floor(GROUP_HISTOGRAM_BYTES / perTree));
  const groups: number[][] = [];
  for (let k = 0; k < K; k += size) groups.push(Array.from({ length: Math.min(size, K - k) }, (_, i) => k + i));
  return groups;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/**
 * Histogram gradient boosting (XGBoost's 'hist' updater) on the fleet. Every
 * choice that could depend on the sharding does not: cut points come from
 * an exactly summed sketch, gradients are quantized to integers with a
 * scale from the global maximum so histogram sums are exact, row sampling
 * and the validation split are seeded by the row's global id, and every
 * rank picks the same splits from the same sums. So 1 and N workers grow
 * the same trees.
 */
export class GbdtProgram extends EnsembleProgram {
  /** What a checkpoint keeps: the trees grown so far and early stopping's best round. */
  private progress: { trees: Tree[]; best: { loss: number; round: number } } = { trees: [], best: { loss: Infinity, round: -1 } };

  constructor(job: ProgramJob, private readonly spec: GbdtSpec) {
    super(job, 'gbdt');
  }

  /** Rank 0's part holds the trees (every rank grew the same); the others' parts are empty. */
  snapshot(): Uint8Array {
    const { trees, best } = this.progress;
    return Buffer.from(JSON.stringify({ trees: trees.map(treeToJson), best: { loss: Number.isFinite(best.loss) ? best.loss : null, round: best.round } }));
  }

  /** The trees and best round a checkpoint holds (rank 0's part). */
  private restored(states: Uint8Array[], cols: number): { trees: Tree[]; best: { loss: number; round: number } } {
    const saved = JSON.parse(Buffer.from(states[0]).toString('utf8')) as { trees: unknown[]; best: { loss: number | null; round: number } };
    return { trees: saved.trees.map((t) => treeFromJson(t, cols)), best: { loss: saved.best.loss ?? Infinity, round: saved.best.round } };
  }

  async run(ctx: ProgramContext): Promise<void> {
    const { spec } = this;
    const { ps, train } = ctx;
    const { rows, cols } = train;
    const objective = gbdtObjective(spec, this.job.info.classes);
    const K = objective === 'softmax' ? this.job.info.classes!.length : 1;
    const totalRows = ctx.trainShardRows.reduce((a, b) => a + b, 0);
    const shard = await binShard(ps, train, spec.maxBins, 'gbdt/bins');

    // Validation rows (early stopping) are chosen by global row id, so the choice does not depend on the sharding.
    const validation = new Uint8Array(rows);
    if (spec.earlyStoppingRounds !== null) {
      for (let r = 0; r < rows; r++) validation[r] = unitUniform(ctx.seed, STREAM.validation, ctx.trainOffset + r, 0) < spec.validationFraction ? 1 : 0;
    }
    const base = await this.baseMargins(ctx, objective, K, validation);
    const margins = new Float64Array(K * rows);
    for (let k = 0; k < K; k++) margins.fill(base[k], k * rows, (k + 1) * rows);

    const g = new Float64Array(K * rows);
    const h = new Float64Array(K * rows);
    let first = 0;
    if (ctx.resume) {
      // The cuts and base margins came again from the same exact sums; the margins are the restored trees' sums.
      this.progress = this.restored(ctx.resume.states, cols);
      first = ctx.resume.round;
      this.progress.trees.forEach((tree, t) => {
        const at = (t % K) * rows;
        for (let r = 0; r < rows; r++) margins[at + r] += tree.value[leafOfBinned(tree, shard.bins, rows, r)];
      });
    }
    const trees = this.progress.trees;
    let best = this.progress.best;
    // A checkpoint of the round early stopping ended at: nothing is left to grow.
    if (spec.earlyStoppingRounds !== null && best.round >= 0 && first - 1 - best.round >= spec.earlyStoppingRounds) first = spec.rounds;
    const allFeatures = Uint32Array.from({ length: cols }, (_, i) => i);
    const perTree = Math.max(1, Math.round(spec.colsampleByTree * cols));
    const scratch = new ScratchArrays();
    for (let round = first; round < spec.rounds; round++) {
      if (ctx.signal.aborted) throw new AbortedError('the job was cancelled');
      const started = process.hrtime.bigint();
      gradients(objective, margins, train.y, rows, K, g, h);
      // Rows outside this round's sample, and validation rows, contribute nothing to the histograms.
      let trained = 0;
      for (let r = 0; r < rows; r++) {
        const out = validation[r] === 1 || (spec.subsample < 1 && unitUniform(ctx.seed, STREAM.subsample, round, ctx.trainOffset + r) >= spec.subsample);
        if (!out) {
          trained++;
          continue;
        }
        for (let k = 0; k < K; k++) {
          g[k * rows + r] = 0;
          h[k * rows + r] = 0;
        }
      }
      const [gMax, hMax] = await maxAcross(ps, `gbdt/r${round}/max`, Float64Array.of(maxAbs(g), maxAbs(h)));
      // One scale for g and h: the histogram sums are then exact int32 integers whatever the order of the ranks.
      const scale = int32Scale(Math.max(gMax, hMax), totalRows);
      quantize(g, g.length, scale, g);
      quantize(h, h.length, scale, h);
      const layouts: HistLayout[] = Array.from({ length: K }, (_, k) => layoutOf(shard.cuts,
        perTree >= cols ? allFeatures : sampleFeatures(mixSeed(ctx.seed, STREAM.colsample), round * K + k, 0, cols, perTree)));
      const grown: Tree[] = new Array(K);
      for (const group of outputGroups(K, spec.maxDepth, layouts)) {
        const made = await growRound(ps, shard, g, h, margins, {
          outputs: K, group, maxDepth: spec.maxDepth, learningRate: spec.learningRate,
          split: { lambda: spec.lambda, gamma: spec.gamma, minChildWeight: spec.minChildWeight },
          layouts, scale, prefix: `gbdt/r${round}/o${group[0]}`, worldSize: ctx.worldSize, onHistograms: ctx.metrics.histogram, scratch,
        });
        group.forEach((k, i) => (grown[k] = made[i]));
      }
      trees.push(...grown);
      const sums: MetricSums = { count: 0, lossSum: 0, correct: 0, squaredError: 0, absoluteError: 0 };
      for (let r = 0; r < rows; r++) {
        if (validation[r] === 1) continue;
        sums.count++;
        sums.lossSum += rowLoss(objective, margins, train.y, rows, K, r);
      }
      ctx.metrics.step(Number(process.hrtime.bigint() - started) / 1e9, trained);
      ctx.metrics.loss(sums.lossSum / Math.max(1, sums.count));
      // Early stopping's decision comes before the round's report, so a checkpoint of the round holds it.
      let stop = false;
      if (spec.earlyStoppingRounds !== null) {
        const loss = await this.validationLoss(ctx, objective, margins, K, validation, totalRows, round);
        if (loss < best.loss) best = { loss, round };
        else if (round - best.round >= spec.earlyStoppingRounds) stop = true;
        this.progress.best = best;
      }
      await ctx.progress(round, sums);
      if (stop) {
        ctx.log.info('early stopping', { round, bestRound: best.round });
        break;
      }
    }
    const kept = best.round >= 0 ? trees.slice(0, (best.round + 1) * K) : trees;
    this.model = { kind: 'boosted', output: objective, outputs: K, base, trees: kept, cuts: shard.cuts, numFeatures: cols };
  }

  /**
   * The starting margin of every output (LightGBM's boost-from-average):
   * the mean label for squared error, the log-odds of class 1 for logistic,
   * 0 for softmax. From exact sums: class counts, or labels quantized.
   */
  private async baseMargins(ctx: ProgramContext, objective: ObjectiveName, K: number, validation: Uint8Array): Promise<number[]> {
    if (objective === 'softmax') return new Array<number>(K).fill(0);
    const totalRows = ctx.trainShardRows.reduce((a, b) => a + b, 0);
    const { mean, count } = await meanExactly(ctx.ps, 'gbdt/base', ctx.train.y, validation, 0, totalRows);
    if (count === 0) throw new TfleetError('INVALID_DATA', 'no training rows are left outside the validation split');
    if (objective === 'squared') return [mean];
    const p = Math.min(1 - 1e-6, Math.max(1e-6, mean));
    return [Math.log(p / (1 - p))];
  }

  /** The validation rows' mean loss, summed exactly. */
  private async validationLoss(ctx: ProgramContext, objective: ObjectiveName, margins: Float64Array, K: number, validation: Uint8Array, totalRows: number, round: number): Promise<number> {
    const rows = ctx.train.rows;
    const losses = new Float64Array(rows);
    for (let r = 0; r < rows; r++) if (validation[r] === 1) losses[r] = rowLoss(objective, margins, ctx.train.y, rows, K, r);
    return (await meanExactly(ctx.ps, `gbdt/r${round}/vloss`, losses, validation, 1, totalRows)).mean;
  }
}

