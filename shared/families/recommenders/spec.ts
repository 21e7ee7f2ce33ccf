import { SpecError } from '../../errors';
import { SpecFields } from '../spec-fields';

/** How a recommender's test set is ranked: top `topK` of a user's test items, relevant at `relevantRating` and above. */
export interface RankingSpec {
  topK: number;
  relevantRating: number;
}

/** `mf`: biased matrix factorization (Surprise's SVD) by SGD, or by alternating least squares. */
export interface MfSpec extends RankingSpec {
  family: 'mf';
  solver: 'sgd' | 'als';
  factors: number;
  epochs: number;
  /** SGD's step, applied per rating (as Surprise's lr_all). */
  learningRate: number;
  /** SGD: the L2 weight per rating (reg_all); ALS: λ, scaled by each row's rating count (ALS-WR). */
  regularization: number;
  initMean: number;
  initStd: number;
  /** SGD: ratings one rank processes between two exchanges of the item rows it touched. */
  batchSize: number;
  /** SGD: the parameter server's per-row rule for the item rows. */
  serverOptimizer: 'sgd' | 'adagrad';
}

/** Surprise's BaselineOnly options: ALS (the default) or SGD. */
export interface BaselineOptions {
  method: 'als' | 'sgd';
  epochs: number;
  /** ALS. */
  regUser: number;
  regItem: number;
  /** SGD. */
  learningRate: number;
  regularization: number;
}

/** `baseline`: global mean plus user and item biases. */
export interface BaselineSpec extends RankingSpec, BaselineOptions {
  family: 'baseline';
  /** SGD: ratings per rank between exchanges (as mf). */
  batchSize: number;
}

export type Similarity = 'cosine' | 'msd' | 'pearson' | 'pearson-baseline';

/** `knn`: neighbourhood collaborative filtering (Surprise's KNNBasic, KNNWithMeans, KNNBaseline). */
export interface KnnSpec extends RankingSpec {
  family: 'knn';
  basedOn: 'user' | 'item';
  similarity: Similarity;
  k: number;
  minK: number;
  minSupport: number;
  /** pearson-baseline's shrinkage of a similarity computed from few common ratings. */
  shrinkage: number;
  prediction: 'basic' | 'means' | 'baseline';
  /** The biases behind pearson-baseline and 'baseline' predictions. */
  baseline: BaselineOptions;
}

export type RecommenderSpec = MfSpec | BaselineSpec | KnnSpec;

const RANKING_FIELDS = ['topK', 'relevantRating'];
const MF_FIELDS = ['family', 'solver', 'factors', 'epochs', 'learningRate', 'regularization', 'initMean', 'initStd', 'batchSize', 'serverOptimizer', ...RANKING_FIELDS];
const BASELINE_OPTION_FIELDS = ['method', 'epochs', 'regUser', 'regItem', 'learningRate', 'regularization'];
const BASELINE_FIELDS = ['family', ...BASELINE_OPTION_FIELDS, 'batchSize', ...RANKING_FIELDS];
const KNN_FIELDS = ['family', 'basedOn', 'similarity', 'k', 'minK', 'minSupport', 'shrinkage', 'prediction', 'baseline', ...RANKING_FIELDS];

function number(f: SpecFields, raw: Record<string, unknown>, key: string, fallback: number, ok: (v: number) => boolean, expected: string): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new SpecError(`${f.path}.${key}`, `must be ${expected}, got ${JSON.stringify(v)}`);
  return v;
}

function ranking(f: SpecFields, raw: Record<string, unknown>): RankingSpec {
  return {
    topK: f.int('topK', { min: 1, max: 10_000, default: 10 }),
    relevantRating: number(f, raw, 'relevantRating', 4, () => true, 'a number'),
  };
}

const positive = (v: number) => v > 0;
const nonNegative = (v: number) => v >= 0;

/** @throws SpecError naming the field, e.g. 'model.factors'. */
export function parseMfSpec(model: Record<string, unknown>): MfSpec {
  const f = new SpecFields(model, 'model');
  f.only(MF_FIELDS, "family 'mf'");
  const solver = f.oneOf('solver', ['sgd', 'als'] as const, 'sgd');
  const als = solver === 'als';
  for (const key of ['learningRate', 'batchSize', 'serverOptimizer']) {
    if (als && model[key] !== undefined) throw new SpecError(`model.${key}`, "is a setting of solver 'sgd', not 'als'");
  }
  return {
    family: 'mf', solver,
    factors: f.int('factors', { min: 1, max: 1024, default: als ? 20 : 100 }),
    epochs: f.int('epochs', { min: 1, max: 10_000, default: als ? 15 : 20 }),
    learningRate: number(f, model, 'learningRate', 0.005, positive, 'a number > 0'),
    regularization: number(f, model, 'regularization', als ? 0.1 : 0.02, nonNegative, 'a number ≥ 0'),
    initMean: number(f, model, 'initMean', 0, () => true, 'a number'),
    initStd: number(f, model, 'initStd', 0.1, nonNegative, 'a number ≥ 0'),
    batchSize: f.int('batchSize', { min: 1, max: 1 << 24, default: 4096 }),
    serverOptimizer: f.oneOf('serverOptimizer', ['sgd', 'adagrad'] as const, 'sgd'),
    ...ranking(f, model),
  };
}

function baselineOptions(f: SpecFields, raw: Record<string, unknown>): BaselineOptions {
  const method = f.oneOf('method', ['als', 'sgd'] as const, 'als');
  const als = method === 'als';
  const onlyFor = (keys: string[], m: string) => {
    for (const key of keys) if (raw[key] !== undefined) throw new SpecError(`${f.path}.${key}`, `is a setting of method '${m}'`);
  };
  if (als) onlyFor(['learningRate', 'regularization'], 'sgd');
  else onlyFor(['regUser', 'regItem'], 'als');
  return {
    method,
    epochs: f.int('epochs', { min: 1, max: 10_000, default: als ? 10 : 20 }),
    regUser: number(f, raw, 'regUser', 15, nonNegative, 'a number ≥ 0'),
    regItem: number(f, raw, 'regItem', 10, nonNegative, 'a number ≥ 0'),
    learningRate: number(f, raw, 'learningRate', 0.005, positive, 'a number > 0'),
    regularization: number(f, raw, 'regularization', 0.02, nonNegative, 'a number ≥ 0'),
  };
}

/** @throws SpecError naming the field, e.g. 'model.regUser'. */
export function parseBaselineSpec(model: Record<string, unknown>): BaselineSpec {
  const f = new SpecFields(model, 'model');
  f.only(BASELINE_FIELDS, "family 'baseline'");
  const options = baselineOptions(f, model);
  if (options.method === 'als' && model.batchSize !== undefined) throw new SpecError('model.batchSize', "is a setting of method 'sgd'");
  return { family: 'baseline', ...options, batchSize: f.int('batchSize', { min: 1, max: 1 << 24, default: 4096 }), ...ranking(f, model) };
}

/** @throws SpecError naming the field, e.g. 'model.similarity'. */
export function parseKnnSpec(model: Record<string, unknown>): KnnSpec {
  const f = new SpecFields(model, 'model');
  f.only(KNN_FIELDS, "family 'knn'");
  const baseline = f.object('baseline');
  if (baseline) baseline.only(BASELINE_OPTION_FIELDS, 'the baseline options');
  const k = f.int('k', { min: 1, max: 100_000, default: 40 });
  const minK = f.int('minK', { min: 0, max: 100_000, default: 1 });
  if (minK > k) throw new SpecError('model.minK', `must be at most model.k (${k}), got ${minK}`);
  return {
    family: 'knn',
    basedOn: f.oneOf('basedOn', ['user', 'item'] as const, 'user'),
    similarity: f.oneOf('similarity', ['cosine', 'msd', 'pearson', 'pearson-baseline'] as const, 'msd'),
    k, minK,
    minSupport: f.int('minSupport', { min: 0, max: 1 << 30, default: 1 }),
    shrinkage: number(f, model, 'shrinkage', 100, nonNegative, 'a number ≥ 0'),
    prediction: f.oneOf('prediction', ['basic', 'means', 'baseline'] as const, 'basic'),
    baseline: baselineOptions(baseline ?? new SpecFields({}, 'model.baseline'), (model.baseline as Record<string, unknown>) ?? {}),
    ...ranking(f, model),
  };
}
