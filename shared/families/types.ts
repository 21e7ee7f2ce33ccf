import { JobSpec } from '../config/job-spec';
import { RatingsColumn, TaskKind } from '../data/dataset';
import { Table } from '../data/table';
import { ProgramJob, TrainingProgram } from '../program/types';
import { ModelMeta } from './model-meta';

/** What a family learns about the data before it builds a model. */
export interface DataInfo {
  numFeatures: number;
  featureNames: readonly string[];
  labelName: string;
  /** Shape of one sample ([cols] for tabular rows, [28, 28] for an image). */
  sampleShape: readonly number[];
  /** Smallest and largest feature value of the training rows (token ids must fit a vocabulary). */
  valueRange: [number, number];
  /** Sorted label values (classifiers), else null. */
  classes: number[] | null;
  /** Feature cells of the training rows that are missing (empty or NaN). */
  missingValues: number;
  /** Ratings data (features: user and item index; label: rating). */
  ratings?: RatingsInfo;
  /** Text data: the rows carry a text (the source's `text` field) besides their numeric features. */
  text?: { field: string };
  /** String labels: the names of classes 0, 1, … (then `classes` are those indices). */
  classNames?: readonly string[];
  /** Training rows over every shard. */
  trainRows?: number;
}

/** What a recommender knows of its ratings before it trains. */
export interface RatingsInfo {
  /** Original ids of the users and items training saw, by dense index. */
  users: readonly string[];
  items: readonly string[];
  /** The declared rating scale, else the training ratings' range: estimates are clipped to it. */
  scale: [number, number];
}

/** One row's prediction: a class with its probabilities, or a number. */
export type Prediction = { label: number; probabilities: number[] } | { value: number };

/** A trained model loaded for `tfleet predict`. */
export interface Predictor {
  readonly meta: ModelMeta;
  /**
   * Reads rows to predict the way the training data was read.
   * @throws DataError naming the file, line and field of a bad row.
   */
  readInput(file: string): Promise<Table>;
  predict(input: Table): Prediction[];
  dispose(): void;
}

/**
 * A model family plugs in by implementing this: it parses its part of the
 * spec, checks the data, creates the training program that runs on every
 * rank, and loads what that program exported.
 */
export interface ModelFamily<Spec = unknown> {
  readonly name: string;
  /**
   * Whether jobs of this family take a `training` section: 'required' for
   * the minibatch gradient families; 'none' for families whose settings
   * all live under `model` (trees).
   */
  readonly training: 'required' | 'none';
  /** Whether a model of this spec predicts a class or a number; 'auto' when the label decides (see `taskOfData`). */
  taskOf(spec: Spec): TaskKind | 'auto';
  /** @throws SpecError naming the `model.*` field. */
  parseSpec(model: Record<string, unknown>): Spec;
  /** @throws DataError when the data cannot train this model (e.g. 3 classes for logistic, images for an rnn with an embedding). */
  checkData(spec: Spec, info: DataInfo): void;
  /** Whether the model reads feature values as they are (token ids, tree thresholds), so they are not standardized. */
  readsRawValues?(spec: Spec): boolean;
  /**
   * Ratings families: the column whose rows one rank keeps together ('user':
   * a user's ratings and factors live on one rank). Test rows are grouped
   * by user whatever this says.
   */
  groupRatingsBy?(spec: Spec): RatingsColumn;
  /** How the family reads raw text ('bag' of words or token 'sequence'); absent: it takes no text. */
  readonly readsText?: 'bag' | 'sequence';
  /** Whether the family trains on rows with missing feature values (trees learn where they go). */
  readonly acceptsMissing?: boolean;
  /** Epochs, boosting rounds or trees the job reports progress in. */
  rounds(spec: Spec, job: JobSpec): number;
  /**
   * The model's trainable parameters from the spec's shapes and the data's,
   * before any worker builds it (the coordinator's --max-model-params).
   * Absent where the count is not known before training.
   */
  parameterCount?(spec: Spec, info: DataInfo): number;
  createProgram(spec: Spec, job: ProgramJob): Promise<TrainingProgram>;
  /** Loads a model folder this family's program exported. @throws DataError naming the folder. */
  loadPredictor(dir: string, meta: ModelMeta): Promise<Predictor>;
}
