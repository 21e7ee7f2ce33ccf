import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TextSettings } from '../../config/job-spec';
import { Table } from '../../data/table';
import { tokenize, hashToken } from '../../data/tokenize';
import { DataError, TfleetError } from '../../errors';
import { MetricSums } from '../../metric-sums';
import { reduceLarge } from '../../ps/collectives';
import { ExportTarget, ProgramContext, ProgramJob, TrainingProgram } from '../../program/types';
import { MODEL_META } from '../model-meta';
import { DataInfo } from '../types';
import { TextFeatures, bagRows, sequenceRows, sequenceVocabulary, textFeatures } from './featurize';
import { buildVocabulary } from './vocabulary';

/** How a family reads text: a bag of words (linear models, naive Bayes) or token sequences (attention). */
export type TextRepresentation = 'bag' | 'sequence';

/** What `text-features.json` holds: how the model turns raw text into its input. */
export const TEXT_FILE = 'text-features.json';

/** The job's text settings. @throws DataError when the job's data has no text. */
export function textSettingsOf(job: ProgramJob): TextSettings {
  const s = job.spec.data.text;
  if (!job.info.text || !s) throw new DataError('this program reads text, and the job\'s data has no text field');
  return s;
}

/**
 * The vocabulary (or hashed buckets) and idf weights from every rank's
 * training texts, the same on every rank; see {@link buildVocabulary}.
 */
export async function buildTextFeatures(ctx: ProgramContext, s: TextSettings, representation: TextRepresentation): Promise<TextFeatures> {
  const settings = representation === 'sequence' ? { ...s, ngrams: [1, 1] as [number, number] } : s;
  const texts = ctx.train.texts ?? [];
  if (settings.hashing === null) {
    const vocab = await buildVocabulary(ctx.ps, 'text/vocab', ctx.rank, ctx.worldSize, texts, settings);
    return textFeatures(settings, vocab);
  }
  // Hashing: no vocabulary pass, only the buckets' document counts for idf.
  const counts = new Float64Array(settings.hashing + 1);
  for (const text of texts) {
    for (const b of new Set(tokenize(text, settings).map((t) => hashToken(t, settings.hashing!)))) counts[b]++;
  }
  counts[settings.hashing] = texts.length;
  const total = await reduceLarge(ctx.ps, 'text/hashed-df', counts, { name: 'sum' });
  return textFeatures(settings, null, { df: total.subarray(0, settings.hashing), documents: total[settings.hashing] });
}

/** A table's texts as the representation's numeric rows. */
export function featurize(t: Table, f: TextFeatures, representation: TextRepresentation): Table {
  if (!t.texts) throw new DataError(`${t.source}: the rows have no text`);
  return representation === 'bag' ? bagRows(t, f) : sequenceRows(t, f);
}

/** The data description of featurized rows, for the program that trains on them. */
export function featurizedInfo(info: DataInfo, f: TextFeatures, representation: TextRepresentation, sample: Table): DataInfo {
  const top = representation === 'bag' ? f.size - 1 : sequenceVocabulary(f) - 1;
  return { ...info, numFeatures: sample.cols, featureNames: [], sampleShape: sample.sampleShape, valueRange: [0, top] };
}

/**
 * Trains a family's own program on text: builds the features across
 * ranks, featurizes this rank's shards, and hands them to the program the
 * family makes for featurized rows. Evaluation featurizes the same way;
 * export adds `text-features.json` and marks `tfleet-model.json`, so
 * `tfleet predict` reads raw text.
 */
export class TextProgram implements TrainingProgram {
  private inner: TrainingProgram | null = null;
  private features: TextFeatures | null = null;
  /** The shards' rows as `run` featurized them: evaluating a shard does not tokenize it again. */
  private readonly featurized = new WeakMap<Table, Table>();

  constructor(
    private readonly job: ProgramJob,
    private readonly representation: TextRepresentation,
    private readonly makeInner: (job: ProgramJob, features: TextFeatures) => Promise<TrainingProgram>,
  ) {}

  async run(ctx: ProgramContext): Promise<void> {
    const features = await buildTextFeatures(ctx, textSettingsOf(this.job), this.representation);
    const train = featurize(ctx.train, features, this.representation);
    const test = ctx.test ? featurize(ctx.test, features, this.representation) : null;
    this.featurized.set(ctx.train, train);
    if (ctx.test && test) this.featurized.set(ctx.test, test);
    this.features = features;
    // Every rank's rows have the same shape only for sequences; a bag's width is its own (its widest row).
    const info = featurizedInfo(this.job.info, features, this.representation, train);
    this.inner = await this.makeInner({ ...this.job, info }, features);
    await this.inner.run({ ...ctx, train, test });
  }

  evaluate(table: Table): Promise<MetricSums> {
    const { inner, features } = this.trained();
    return inner.evaluate(this.featurized.get(table) ?? featurize(table, features, this.representation));
  }

  /** The inner program's {@link TrainingProgram.evaluateNow}, on the featurized rows. */
  async evaluateNow(table: Table): Promise<MetricSums> {
    const { inner, features } = this.trained();
    if (!inner.evaluateNow) throw new TfleetError('FAILED_PRECONDITION', 'this family evaluates only once training ends');
    return inner.evaluateNow(this.featurized.get(table) ?? featurize(table, features, this.representation));
  }

  async export(target: ExportTarget): Promise<void> {
    const { inner, features } = this.trained();
    await inner.export(target);
    await writeTextFeatures(target.dir, features, this.representation);
  }

  dispose(): void {
    this.inner?.dispose();
  }

  /** The inner program's part: the features are rebuilt from the data alike on resume. */
  async snapshot(): Promise<Uint8Array | null> {
    return this.inner?.snapshot ? await this.inner.snapshot() : null;
  }

  private trained(): { inner: TrainingProgram; features: TextFeatures } {
    if (!this.inner || !this.features) throw new TfleetError('FAILED_PRECONDITION', 'the program has not run');
    return { inner: this.inner, features: this.features };
  }
}

interface TextFeaturesJson {
  format: string;
  representation: TextRepresentation;
  settings: TextSettings;
  tokens: string[] | null;
  size: number;
  idf: number[];
}

/** Writes `text-features.json` and marks the folder's `tfleet-model.json` as reading text. */
export async function writeTextFeatures(dir: string, f: TextFeatures, representation: TextRepresentation): Promise<void> {
  const json: TextFeaturesJson = { format: 'tfleet-text/1', representation, settings: f.settings, tokens: f.tokens, size: f.size, idf: [...f.idf] };
  await writeFile(join(dir, TEXT_FILE), JSON.stringify(json));
  const metaPath = join(dir, MODEL_META);
  const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Record<string, unknown>;
  await writeFile(metaPath, JSON.stringify({ ...meta, text: { file: TEXT_FILE } }, null, 2));
}

/** @throws DataError naming the folder when its text features are missing or damaged. */
export async function readTextFeatures(dir: string): Promise<{ features: TextFeatures; representation: TextRepresentation }> {
  let json: TextFeaturesJson;
  try {
    json = JSON.parse(await readFile(join(dir, TEXT_FILE), 'utf8')) as TextFeaturesJson;
  } catch (err) {
    throw new DataError(`${dir}: cannot read ${TEXT_FILE} (${(err as Error).message})`, { cause: err });
  }
  if (json.format !== 'tfleet-text/1' || !Array.isArray(json.idf) || json.idf.length !== json.size || (json.tokens !== null && json.tokens.length !== json.size)) {
    throw new DataError(`${dir}/${TEXT_FILE}: damaged (format or sizes do not match)`);
  }
  return { features: { settings: json.settings, tokens: json.tokens, size: json.size, idf: Float32Array.from(json.idf) }, representation: json.representation };
}
