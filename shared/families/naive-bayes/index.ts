import { mkdir } from 'node:fs/promises';
import { Table } from '../../data/table';
import { DataError, SpecError, TfleetError } from '../../errors';
import { MetricSums } from '../../metric-sums';
import { ExportTarget, ProgramContext, ProgramJob, TrainingProgram } from '../../program/types';
import { baseMeta, writeModelMeta } from '../model-meta';
import { readPredictionInput } from '../prediction-input';
import { SpecFields } from '../spec-fields';
import { ModelFamily, Prediction, Predictor } from '../types';
import { TextFeatures } from '../text/featurize';
import { buildTextFeatures, featurize, textSettingsOf, writeTextFeatures } from '../text/program';
import { reduceLarge } from '../../ps/collectives';
import { ClassSums, NaiveBayesKind, NaiveBayesModel, RowVisitor, bagOfWords, classSums, denseRows } from './model';

export interface NaiveBayesSpec {
  family: 'naive-bayes';
  kind: NaiveBayesKind;
  /** Laplace (1) or Lidstone smoothing of the multinomial and Bernoulli estimates. */
  alpha: number;
  /** gaussian: every variance grows by this times the largest variance (scikit-learn's var_smoothing). */
  varSmoothing: number;
}

/** @throws SpecError naming the field. */
export function parseNaiveBayesSpec(model: Record<string, unknown>): NaiveBayesSpec {
  const f = new SpecFields(model, 'model');
  f.only(['family', 'kind', 'alpha', 'varSmoothing'], "family 'naive-bayes'");
  const num = (key: string, fallback: number, ok: (v: number) => boolean, expected: string): number => {
    const v = model[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new SpecError(`model.${key}`, `must be ${expected}, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    family: 'naive-bayes',
    kind: f.oneOf('kind', ['multinomial', 'bernoulli', 'gaussian'] as const, 'multinomial'),
    alpha: num('alpha', 1, (v) => v > 0, 'a number > 0'),
    varSmoothing: num('varSmoothing', 1e-9, (v) => v >= 0, 'a number ≥ 0'),
  };
}

/**
 * Naive Bayes on the fleet: one pass over each rank's shard adds its class
 * and class × feature counts (or sums), the parameter server adds the
 * ranks' (float64: counts stay exact integers), and every rank fits the
 * same model. On text the features are the vocabulary built across ranks,
 * as counts (multinomial) or presence (Bernoulli).
 */
class NaiveBayesProgram implements TrainingProgram {
  private model: NaiveBayesModel | null = null;
  private features: TextFeatures | null = null;
  /** The training shard as `run` featurized it: evaluating it does not tokenize it again. */
  private readonly featurized = new WeakMap<Table, Table>();

  constructor(private readonly job: ProgramJob, private readonly spec: NaiveBayesSpec) {}

  async run(ctx: ProgramContext): Promise<void> {
    const { spec } = this;
    const classes = this.job.info.classes!;
    let train = ctx.train;
    let rows: RowVisitor = denseRows;
    let size = train.cols;
    if (this.job.info.text) {
      const settings = { ...textSettingsOf(this.job), weighting: spec.kind === 'bernoulli' ? 'binary' as const : 'count' as const };
      this.features = await buildTextFeatures(ctx, settings, 'bag');
      train = featurize(train, this.features, 'bag');
      this.featurized.set(ctx.train, train);
      rows = bagOfWords;
      size = this.features.size;
    }
    const mine = classSums(spec.kind, train, rows, classes.length, size);
    const C = classes.length;
    const packed = new Float64Array(C + mine.first.length + mine.second.length);
    packed.set(mine.rows);
    packed.set(mine.first, C);
    packed.set(mine.second, C + mine.first.length);
    const total = await reduceLarge(ctx.ps, 'nb/sums', packed, { name: 'sum' });
    const sums: ClassSums = {
      rows: total.subarray(0, C), first: total.subarray(C, C + mine.first.length), second: total.subarray(C + mine.first.length),
    };
    this.model = NaiveBayesModel.fit(spec.kind, sums, classes, size, spec.alpha, spec.varSmoothing);
    const trained = this.model.evaluate(train, rows);
    ctx.metrics.loss(trained.lossSum / Math.max(1, trained.count));
    await ctx.progress(0, trained);
  }

  async evaluate(table: Table): Promise<MetricSums> {
    const model = this.trained();
    if (!this.features) return model.evaluate(table, denseRows);
    return model.evaluate(this.featurized.get(table) ?? featurize(table, this.features, 'bag'), bagOfWords);
  }

  async export(target: ExportTarget): Promise<void> {
    const model = this.trained();
    await mkdir(target.dir, { recursive: true });
    await model.save(target.dir);
    await writeModelMeta(target.dir, baseMeta('naive-bayes', this.job.info, target.source, null));
    if (this.features) await writeTextFeatures(target.dir, this.features, 'bag');
  }

  dispose(): void {
    this.model = null;
  }

  private trained(): NaiveBayesModel {
    if (!this.model) throw new TfleetError('FAILED_PRECONDITION', 'the program has not run');
    return this.model;
  }
}

export const naiveBayesFamily: ModelFamily<NaiveBayesSpec> = {
  name: 'naive-bayes',
  training: 'none',
  readsText: 'bag',
  taskOf: () => 'classifier',
  parseSpec: parseNaiveBayesSpec,
  checkData: (spec, info) => {
    if (spec.kind === 'gaussian' && info.text) throw new DataError("naive-bayes kind 'gaussian' is for continuous features, not text: use 'multinomial' or 'bernoulli'");
  },
  readsRawValues: () => true,
  rounds: () => 1,
  createProgram: async (spec, job) => new NaiveBayesProgram(job, spec),
  loadPredictor: async (dir, meta) => {
    const model = await NaiveBayesModel.load(dir);
    // Text models read bag-of-words rows (tfleet predict featurizes the text first); others their numeric rows.
    const rows = meta.text ? bagOfWords : denseRows;
    const predictor: Predictor = {
      meta,
      readInput: (file) => readPredictionInput(meta, file),
      predict: (input): Prediction[] => model.predict(input, rows),
      dispose: () => undefined,
    };
    return predictor;
  },
};
