import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Table } from '../../data/table';
import { DataError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { Prediction } from '../types';

export type NaiveBayesKind = 'multinomial' | 'bernoulli' | 'gaussian';

/** The per-class sums a naive Bayes model is made of: additive, so summed across ranks. */
export interface ClassSums {
  /** Rows of each class. */
  rows: Float64Array;
  /** classes × features: feature sums (multinomial), rows where the feature is present (bernoulli), Σx (gaussian). */
  first: Float64Array;
  /** gaussian: Σx² per class × feature; empty otherwise. */
  second: Float64Array;
}

/**
 * Rows of numeric features or bag-of-words rows (ids then weights, as
 * `bagRows` writes them) as the features of row r: calls `visit(j, v)` for
 * each nonzero feature.
 */
export type RowVisitor = (t: Table, r: number, visit: (j: number, v: number) => void) => void;

export const denseRows: RowVisitor = (t, r, visit) => {
  for (let j = 0; j < t.cols; j++) {
    const v = t.x[r * t.cols + j];
    if (v !== 0) visit(j, v);
  }
};

export const bagOfWords: RowVisitor = (t, r, visit) => {
  const width = t.cols / 2;
  const at = r * t.cols;
  for (let j = 0; j < width; j++) {
    const id = t.x[at + j];
    if (id < 0) break;
    visit(id, t.x[at + width + j]);
  }
};

/** This rank's class sums of a table. @throws DataError for a negative count (multinomial) naming the row. */
export function classSums(kind: NaiveBayesKind, t: Table, rows: RowVisitor, classes: number, features: number): ClassSums {
  const out: ClassSums = {
    rows: new Float64Array(classes), first: new Float64Array(classes * features),
    second: kind === 'gaussian' ? new Float64Array(classes * features) : new Float64Array(0),
  };
  for (let r = 0; r < t.rows; r++) {
    const c = t.y[r];
    out.rows[c]++;
    const at = c * features;
    if (kind === 'gaussian') {
      // Gaussian sums run over every feature, zeros included.
      for (let j = 0; j < features; j++) {
        const v = t.x[r * t.cols + j];
        out.first[at + j] += v;
        out.second[at + j] += v * v;
      }
      continue;
    }
    rows(t, r, (j, v) => {
      if (kind === 'multinomial' && v < 0) throw new DataError(`${t.source} row ${r + 1}: feature ${j} is ${v}; multinomial naive Bayes takes counts ≥ 0 (use kind 'gaussian')`);
      out.first[at + j] += kind === 'bernoulli' ? 1 : v;
    });
  }
  return out;
}

/** A trained naive Bayes model: log priors and per-class feature parameters. */
export class NaiveBayesModel {
  private constructor(
    readonly kind: NaiveBayesKind,
    readonly classes: readonly number[],
    readonly features: number,
    readonly logPrior: Float64Array,
    /** multinomial: log P(feature | class); bernoulli: log p; gaussian: means. */
    readonly a: Float64Array,
    /** bernoulli: log(1 − p); gaussian: variances. */
    readonly b: Float64Array,
    /** bernoulli: Σ_j log(1 − p_cj) per class, the score of an empty row. */
    private readonly base: Float64Array,
  ) {}

  /** From summed class sums with Laplace/Lidstone `alpha` (multinomial, bernoulli) or scikit-learn's `varSmoothing` (gaussian). */
  static fit(kind: NaiveBayesKind, sums: ClassSums, classes: readonly number[], features: number, alpha: number, varSmoothing: number): NaiveBayesModel {
    const C = classes.length;
    const total = sums.rows.reduce((s, v) => s + v, 0);
    const logPrior = Float64Array.from(sums.rows, (n) => Math.log(n / total));
    const a = new Float64Array(C * features);
    const b = new Float64Array(kind === 'multinomial' ? 0 : C * features);
    const base = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const at = c * features;
      if (kind === 'multinomial') {
        let sum = 0;
        for (let j = 0; j < features; j++) sum += sums.first[at + j];
        const denominator = Math.log(sum + alpha * features);
        for (let j = 0; j < features; j++) a[at + j] = Math.log(sums.first[at + j] + alpha) - denominator;
      } else if (kind === 'bernoulli') {
        for (let j = 0; j < features; j++) {
          const p = (sums.first[at + j] + alpha) / (sums.rows[c] + 2 * alpha);
          a[at + j] = Math.log(p);
          b[at + j] = Math.log(1 - p);
          base[c] += b[at + j];
        }
      } else {
        for (let j = 0; j < features; j++) {
          const n = Math.max(1, sums.rows[c]);
          const mean = sums.first[at + j] / n;
          a[at + j] = mean;
          b[at + j] = Math.max(0, sums.second[at + j] / n - mean * mean);
        }
      }
    }
    if (kind === 'gaussian') {
      // scikit-learn: every variance grows by varSmoothing times the largest variance of any feature.
      let largest = 0;
      for (let j = 0; j < features; j++) {
        let s1 = 0;
        let s2 = 0;
        for (let c = 0; c < C; c++) { s1 += sums.first[c * features + j]; s2 += sums.second[c * features + j]; }
        largest = Math.max(largest, s2 / total - (s1 / total) ** 2);
      }
      const epsilon = varSmoothing * largest || 1e-12;
      for (let i = 0; i < b.length; i++) b[i] += epsilon;
    }
    return new NaiveBayesModel(kind, classes, features, logPrior, a, b, base);
  }

  /** Joint log likelihood of row r per class, into `out`. */
  scores(t: Table, r: number, rows: RowVisitor, out: Float64Array): void {
    const { features: F } = this;
    for (let c = 0; c < this.classes.length; c++) {
      const at = c * F;
      let s = this.logPrior[c];
      if (this.kind === 'gaussian') {
        for (let j = 0; j < F; j++) {
          const d = t.x[r * t.cols + j] - this.a[at + j];
          s -= 0.5 * (Math.log(2 * Math.PI * this.b[at + j]) + (d * d) / this.b[at + j]);
        }
      } else if (this.kind === 'multinomial') rows(t, r, (j, v) => { if (j < F) s += v * this.a[at + j]; });
      else {
        s += this.base[c];
        rows(t, r, (j) => { if (j < F) s += this.a[at + j] - this.b[at + j]; });
      }
      out[c] = s;
    }
  }

  /** The class index and posterior probabilities of row r. */
  posterior(t: Table, r: number, rows: RowVisitor, scratch: Float64Array): { k: number; p: number[] } {
    this.scores(t, r, rows, scratch);
    let k = 0;
    for (let c = 1; c < this.classes.length; c++) if (scratch[c] > scratch[k]) k = c;
    const e = [...scratch].map((v) => Math.exp(v - scratch[k]));
    const sum = e.reduce((a, v) => a + v, 0);
    return { k, p: e.map((v) => v / sum) };
  }

  evaluate(t: Table, rows: RowVisitor): MetricSums {
    const sums = emptySums();
    const scratch = new Float64Array(this.classes.length);
    for (let r = 0; r < t.rows; r++) {
      const { k, p } = this.posterior(t, r, rows, scratch);
      sums.count++;
      sums.lossSum += -Math.log(Math.max(1e-15, p[t.y[r]]));
      if (k === t.y[r]) sums.correct++;
    }
    return sums;
  }

  predict(t: Table, rows: RowVisitor): Prediction[] {
    const scratch = new Float64Array(this.classes.length);
    return Array.from({ length: t.rows }, (_, r) => {
      const { k, p } = this.posterior(t, r, rows, scratch);
      return { label: this.classes[k], probabilities: p };
    });
  }

  async save(dir: string): Promise<void> {
    await writeFile(join(dir, NAIVE_BAYES_FILE), JSON.stringify({
      format: 'tfleet-naive-bayes/1', kind: this.kind, classes: this.classes, features: this.features,
      logPrior: [...this.logPrior], a: [...this.a], b: [...this.b], base: [...this.base],
    }));
  }

  /** @throws DataError naming the folder when the file is missing or damaged. */
  static async load(dir: string): Promise<NaiveBayesModel> {
    let j: { format: string; kind: NaiveBayesKind; classes: number[]; features: number; logPrior: number[]; a: number[]; b: number[]; base: number[] };
    try {
      j = JSON.parse(await readFile(join(dir, NAIVE_BAYES_FILE), 'utf8'));
    } catch (err) {
      throw new DataError(`${dir}: cannot read ${NAIVE_BAYES_FILE} (${(err as Error).message})`, { cause: err });
    }
    const C = j.classes?.length ?? 0;
    if (j.format !== 'tfleet-naive-bayes/1' || C < 1 || j.a?.length !== C * j.features || j.logPrior?.length !== C) throw new DataError(`${dir}/${NAIVE_BAYES_FILE}: damaged (format or sizes do not match)`);
    return new NaiveBayesModel(j.kind, j.classes, j.features, Float64Array.from(j.logPrior), Float64Array.from(j.a), Float64Array.from(j.b), Float64Array.from(j.base));
  }
}

export const NAIVE_BAYES_FILE = 'naive-bayes.json';
