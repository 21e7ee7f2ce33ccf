import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Table } from '../../data/table';
import { loadLayersPredictor } from '../layers/predictor';
import { ModelMeta } from '../model-meta';
import { readPredictionInput } from '../prediction-input';
import { Prediction, Predictor } from '../types';
import { LINEAR_FILE, readSparseLinear } from './sparse-linear';

/**
 * A saved sparse linear model for `tfleet predict`. Its probabilities are
 * the softmax or sigmoid of the scores for logistic and softmax; for an
 * SVM, whose scores are not probabilities, 1 for the predicted class and 0
 * for the others.
 */
class LinearPredictor implements Predictor {
  constructor(readonly meta: ModelMeta, private readonly m: Awaited<ReturnType<typeof readSparseLinear>>) {}

  readInput(file: string): Promise<Table> {
    return readPredictionInput(this.meta, file);
  }

  predict(input: Table): Prediction[] {
    const { model, w, b, classes } = this.m;
    const s = new Float64Array(model.outputs);
    const out: Prediction[] = [];
    for (let r = 0; r < input.rows; r++) {
      model.scores({ rows: input.rows, cols: input.cols, x: input.x, y: input.y }, r, w, b, s);
      const k = model.label(s);
      let probabilities: number[];
      if (model.loss === 'logistic') {
        const p = 1 / (1 + Math.exp(-s[0]));
        probabilities = [1 - p, p];
      } else if (model.loss === 'softmax') {
        const max = Math.max(...s);
        const e = [...s].map((v) => Math.exp(v - max));
        const sum = e.reduce((a, v) => a + v, 0);
        probabilities = e.map((v) => v / sum);
      } else probabilities = classes.map((_, j) => (j === k ? 1 : 0));
      out.push({ label: classes[k], probabilities });
    }
    return out;
  }

  dispose(): void {
    // Typed arrays only.
  }
}

/** A gradient family's folder: a sparse linear model (`linear.json`) or a tfjs network. */
export async function loadLinearOrLayersPredictor(dir: string, meta: ModelMeta): Promise<Predictor> {
  if (!existsSync(join(dir, LINEAR_FILE))) return loadLayersPredictor(dir, meta);
  return new LinearPredictor(meta, await readSparseLinear(dir));
}
