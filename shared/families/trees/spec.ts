import { SpecError } from '../../errors';
import { SpecFields } from '../spec-fields';
import { ObjectiveName } from './kernels';

/** Hyperparameters of `gbdt`, defaults filled in (XGBoost's names and defaults). */
export interface GbdtSpec {
  family: 'gbdt';
  /** null: chosen from the label. */
  objective: ObjectiveName | null;
  rounds: number;
  maxDepth: number;
  learningRate: number;
  lambda: number;
  gamma: number;
  minChildWeight: number;
  subsample: number;
  colsampleByTree: number;
  /** null: no early stopping. */
  earlyStoppingRounds: number | null;
  validationFraction: number;
  maxBins: number;
}

export type FeaturesPerNode = 'sqrt' | 'third' | 'all' | number;

/** Hyperparameters of `forest`, defaults filled in. */
export interface ForestSpec {
  family: 'forest';
  /** null: gini for classes, variance for a numeric label. */
  criterion: 'gini' | 'entropy' | 'variance' | null;
  trees: number;
  /** Levels of splits; 64 when the spec leaves it unlimited. */
  maxDepth: number;
  minSamplesLeaf: number;
  /** null: 'sqrt' for classes, 'third' for a numeric label. */
  featuresPerNode: FeaturesPerNode | null;
  maxBins: number;
  treesPerPass: number;
}

/** Deepest tree either family grows: "unlimited" depth stops here. */
export const MAX_TREE_DEPTH = 64;

const GBDT_FIELDS = ['family', 'objective', 'rounds', 'maxDepth', 'learningRate', 'lambda', 'gamma', 'minChildWeight', 'subsample', 'colsampleByTree', 'earlyStoppingRounds', 'validationFraction', 'maxBins'];
const FOREST_FIELDS = ['family', 'criterion', 'trees', 'maxDepth', 'minSamplesLeaf', 'featuresPerNode', 'maxBins', 'treesPerPass'];

function number(f: SpecFields, raw: Record<string, unknown>, key: string, fallback: number, ok: (v: number) => boolean, expected: string): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new SpecError(`${f.path}.${key}`, `must be ${expected}, got ${JSON.stringify(v)}`);
  return v;
}

/** @throws SpecError naming a field of another family (e.g. 'model.hidden') or a value out of range. */
export function parseGbdtSpec(model: Record<string, unknown>): GbdtSpec {
  const f = new SpecFields(model, 'model');
  f.only(GBDT_FIELDS, "family 'gbdt'");
  const early = model.earlyStoppingRounds === undefined ? null : f.int('earlyStoppingRounds', { min: 1, max: 100_000 });
  if (early === null && model.validationFraction !== undefined) {
    throw new SpecError('model.validationFraction', "is used only with 'earlyStoppingRounds'");
  }
  return {
    family: 'gbdt',
    objective: model.objective === undefined ? null : f.oneOf('objective', ['squared', 'logistic', 'softmax'] as const),
    rounds: f.int('rounds', { min: 1, max: 100_000, default: 100 }),
    maxDepth: f.int('maxDepth', { min: 1, max: MAX_TREE_DEPTH, default: 6 }),
    learningRate: number(f, model, 'learningRate', 0.3, (v) => v > 0 && v <= 10, 'a number > 0 and ≤ 10'),
    lambda: number(f, model, 'lambda', 1, (v) => v >= 0, 'a number ≥ 0'),
    gamma: number(f, model, 'gamma', 0, (v) => v >= 0, 'a number ≥ 0'),
    minChildWeight: number(f, model, 'minChildWeight', 1, (v) => v >= 0, 'a number ≥ 0'),
    subsample: number(f, model, 'subsample', 1, (v) => v > 0 && v <= 1, 'a number > 0 and ≤ 1'),
    colsampleByTree: number(f, model, 'colsampleByTree', 1, (v) => v > 0 && v <= 1, 'a number > 0 and ≤ 1'),
    earlyStoppingRounds: early,
    validationFraction: number(f, model, 'validationFraction', 0.1, (v) => v > 0 && v < 1, 'a number > 0 and < 1'),
    maxBins: f.int('maxBins', { min: 2, max: 256, default: 256 }),
  };
}

/** @throws SpecError naming a field of another family or a value out of range. */
export function parseForestSpec(model: Record<string, unknown>): ForestSpec {
  const f = new SpecFields(model, 'model');
  f.only(FOREST_FIELDS, "family 'forest'");
  const perNode = model.featuresPerNode ?? null;
  let featuresPerNode: FeaturesPerNode | null = null;
  if (typeof perNode === 'number') featuresPerNode = f.int('featuresPerNode', { min: 1, max: 1_000_000 });
  else if (perNode !== null) featuresPerNode = f.oneOf('featuresPerNode', ['sqrt', 'third', 'all'] as const);
  return {
    family: 'forest',
    criterion: model.criterion === undefined ? null : f.oneOf('criterion', ['gini', 'entropy', 'variance'] as const),
    trees: f.int('trees', { min: 1, max: 100_000, default: 100 }),
    maxDepth: f.int('maxDepth', { min: 1, max: MAX_TREE_DEPTH, default: MAX_TREE_DEPTH }),
    minSamplesLeaf: f.int('minSamplesLeaf', { min: 1, max: 1_000_000, default: 1 }),
    featuresPerNode,
    maxBins: f.int('maxBins', { min: 2, max: 256, default: 256 }),
    treesPerPass: f.int('treesPerPass', { min: 1, max: 1000, default: 10 }),
  };
}
