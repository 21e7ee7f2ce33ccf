import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Table } from '../../data/table';
import { DataError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { ModelMeta } from '../model-meta';
import { readPredictionInput } from '../prediction-input';
import { Prediction, Predictor } from '../types';
import { BinCuts, BinCutsJson, ObjectiveName, Tree, TreeJson, cutsFromJson, cutsToJson, featureGains, leafOfRow, probabilities, treeFromJson, treeToJson } from './kernels';

/** The file a tree family's model lives in, beside `tfleet-model.json`. */
export const TREES_FILE = 'trees.json';
/** Per-feature split gain, beside the model. */
export const IMPORTANCE_FILE = 'importance.json';

/**
 * A trained ensemble. Boosted: the margin of output k is `base[k]` plus the
 * leaf values of trees k, k + K, k + 2K, …; averaged (forest): the mean of
 * every tree's leaf outputs (class probabilities or the mean label).
 */
export interface TreeEnsemble {
  kind: 'boosted' | 'averaged';
  /** boosted: how margins become predictions; averaged: 'probabilities' or 'mean'. */
  output: ObjectiveName | 'probabilities' | 'mean';
  /** Outputs per row: K margins (boosted), K probabilities or 1 mean (averaged). */
  outputs: number;
  base: number[];
  trees: Tree[];
  cuts: BinCuts;
  numFeatures: number;
}

interface EnsembleJson {
  format: 'tfleet-trees/1';
  kind: TreeEnsemble['kind'];
  output: TreeEnsemble['output'];
  outputs: number;
  base: number[];
  numFeatures: number;
  cuts: BinCutsJson;
  trees: TreeJson[];
}

/** Outputs of row r of a row-major block: margins (boosted) or averaged leaf outputs. */
export function ensembleOutputs(m: TreeEnsemble, x: Float32Array, cols: number, r: number, out: Float64Array): void {
  const K = m.outputs;
  if (m.kind === 'boosted') {
    for (let k = 0; k < K; k++) out[k] = m.base[k];
    for (let t = 0; t < m.trees.length; t++) {
      const tree = m.trees[t];
      out[t % K] += tree.value[leafOfRow(tree, x, cols, r)];
    }
    return;
  }
  out.fill(0, 0, K);
  for (const tree of m.trees) {
    const leaf = leafOfRow(tree, x, cols, r) * K;
    for (let k = 0; k < K; k++) out[k] += tree.value[leaf + k];
  }
  for (let k = 0; k < K; k++) out[k] /= m.trees.length;
}

/** Class probabilities (classifiers) or the predicted number of a row's outputs. */
function decide(m: TreeEnsemble, outputs: Float64Array, probs: Float64Array): number | null {
  if (m.kind === 'boosted') {
    if (m.output === 'squared') return outputs[0];
    probabilities(m.output as ObjectiveName, outputs.subarray(0, m.outputs), probs);
    return null;
  }
  if (m.output === 'mean') return outputs[0];
  probs.set(outputs.subarray(0, m.outputs));
  return null;
}

/** Rows evaluated between yields to the event loop. */
const EVAL_CHUNK_ROWS = 2048;
/** Smallest probability a loss is taken of. */
const MIN_PROBABILITY = 1e-15;

/**
 * Additive metric sums of the ensemble on a table (labels are class ids for
 * classifiers): cross-entropy and accuracy, or squared and absolute error.
 */
export async function evaluateEnsemble(m: TreeEnsemble, table: Table): Promise<MetricSums> {
  const sums = emptySums();
  const outputs = new Float64Array(Math.max(2, m.outputs));
  const probs = new Float64Array(Math.max(2, m.outputs));
  for (let r = 0; r < table.rows; r++) {
    if (r > 0 && r % EVAL_CHUNK_ROWS === 0) await new Promise((resolve) => setImmediate(resolve));
    ensembleOutputs(m, table.x, table.cols, r, outputs);
    const value = decide(m, outputs, probs);
    const y = table.y[r];
    sums.count++;
    if (value !== null) {
      const e = value - y;
      sums.lossSum += e * e;
      sums.squaredError += e * e;
      sums.absoluteError += Math.abs(e);
    } else {
      const classes = m.output === 'logistic' ? 2 : m.outputs;
      let best = 0;
      for (let k = 1; k < classes; k++) if (probs[k] > probs[best]) best = k;
      if (best === y) sums.correct++;
      sums.lossSum -= Math.log(Math.max(MIN_PROBABILITY, probs[y]));
    }
  }
  return sums;
}

/** Writes `trees.json` and `importance.json` (split gain per feature, largest first). */
export async function writeEnsemble(dir: string, m: TreeEnsemble, featureNames: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const json: EnsembleJson = {
    format: 'tfleet-trees/1', kind: m.kind, output: m.output, outputs: m.outputs, base: m.base,
    numFeatures: m.numFeatures, cuts: cutsToJson(m.cuts), trees: m.trees.map(treeToJson),
  };
  await writeFile(join(dir, TREES_FILE), JSON.stringify(json));
  const gains = featureGains(m.trees, m.numFeatures);
  const named = [...gains].map((gain, f) => ({ feature: featureNames[f] ?? `f${f}`, gain })).filter((e) => e.gain > 0).sort((a, b) => b.gain - a.gain);
  await writeFile(join(dir, IMPORTANCE_FILE), JSON.stringify(named, null, 2));
}

const KINDS = ['boosted', 'averaged'];
const OUTPUTS = ['squared', 'logistic', 'softmax', 'probabilities', 'mean'];

/** @throws DataError naming the file and the field that is wrong. */
export async function readEnsemble(dir: string): Promise<TreeEnsemble> {
  const file = join(dir, TREES_FILE);
  let raw: EnsembleJson;
  try {
    raw = JSON.parse(await readFile(file, 'utf8')) as EnsembleJson;
  } catch (err) {
    throw new DataError(`${file}: cannot read the tree model (${(err as Error).message})`, { cause: err });
  }
  const bad = (field: string, why: string) => new DataError(`${file}: '${field}' ${why}`);
  if (raw?.format !== 'tfleet-trees/1') throw bad('format', "must be 'tfleet-trees/1'");
  if (!KINDS.includes(raw.kind)) throw bad('kind', `must be one of ${KINDS.join(', ')}`);
  if (!OUTPUTS.includes(raw.output)) throw bad('output', `must be one of ${OUTPUTS.join(', ')}`);
  if (!Number.isInteger(raw.outputs) || raw.outputs < 1) throw bad('outputs', 'must be an integer ≥ 1');
  if (!Number.isInteger(raw.numFeatures) || raw.numFeatures < 1) throw bad('numFeatures', 'must be an integer ≥ 1');
  if (!Array.isArray(raw.base) || (raw.kind === 'boosted' && raw.base.length !== raw.outputs)) throw bad('base', `must hold ${raw.outputs} numbers`);
  if (!Array.isArray(raw.trees) || raw.trees.length === 0) throw bad('trees', 'must be a non-empty array');
  try {
    const trees = raw.trees.map((t) => treeFromJson(t, raw.numFeatures));
    const perTree = raw.kind === 'boosted' ? 1 : raw.outputs;
    trees.forEach((t, i) => {
      if (t.numOutputs !== perTree) throw bad(`trees[${i}].numOutputs`, `must be ${perTree}`);
    });
    return { kind: raw.kind, output: raw.output, outputs: raw.outputs, base: raw.base, numFeatures: raw.numFeatures, cuts: cutsFromJson(raw.cuts), trees };
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** A tree ensemble loaded for `tfleet predict`. */
class EnsemblePredictor implements Predictor {
  constructor(readonly meta: ModelMeta, private readonly model: TreeEnsemble) {}

  readInput(file: string): Promise<Table> {
    return readPredictionInput(this.meta, file);
  }

  predict(input: Table): Prediction[] {
    const m = this.model;
    const outputs = new Float64Array(Math.max(2, m.outputs));
    const probs = new Float64Array(Math.max(2, m.outputs));
    const out: Prediction[] = [];
    for (let r = 0; r < input.rows; r++) {
      ensembleOutputs(m, input.x, input.cols, r, outputs);
      const value = decide(m, outputs, probs);
      if (value !== null) {
        out.push({ value });
        continue;
      }
      const classes = this.meta.classes!;
      const p = [...probs.subarray(0, classes.length)];
      let best = 0;
      for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
      out.push({ label: classes[best], probabilities: p });
    }
    return out;
  }

  dispose(): void {
    // Plain arrays: nothing native to free.
  }
}

/** Loads a folder written by a tree family's program. @throws DataError naming the file. */
export async function loadEnsemblePredictor(dir: string, meta: ModelMeta): Promise<Predictor> {
  const model = await readEnsemble(dir);
  if (model.numFeatures !== meta.features.length && meta.features.length > 0) {
    throw new DataError(`${dir}: ${TREES_FILE} has ${model.numFeatures} features, ${'tfleet-model.json'} lists ${meta.features.length}`);
  }
  return new EnsemblePredictor(meta, model);
}
