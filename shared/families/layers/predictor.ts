import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Table } from '../../data/table';
import { ModelMeta } from '../model-meta';
import { readPredictionInput } from '../prediction-input';
import { loadLayersModel } from '../tfjs-io';
import { Prediction, Predictor } from '../types';
import { LayersMeta } from './replica';

/** Rows predicted per forward pass, to bound memory. */
const PREDICT_CHUNK_ROWS = 1024;

function decode(meta: LayersMeta, row: number[]): Prediction {
  if (meta.head === 'squared') return { value: row[0] };
  const classes = meta.classes!;
  const probabilities = meta.head === 'sigmoid' ? [1 - row[0], row[0]] : row;
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
  return { label: classes[best], probabilities };
}

/** A tfjs layers model exported by the minibatch program, loaded for prediction. */
class LayersPredictor implements Predictor {
  constructor(readonly meta: LayersMeta, private readonly model: tfl.LayersModel) {}

  readInput(file: string): Promise<Table> {
    return readPredictionInput(this.meta, file);
  }

  predict(input: Table): Prediction[] {
    const inputShape = (this.model.inputs[0].shape as number[]).slice(1);
    const out: Prediction[] = [];
    for (let start = 0; start < input.rows; start += PREDICT_CHUNK_ROWS) {
      const rows = Math.min(PREDICT_CHUNK_ROWS, input.rows - start);
      const values = tf.tidy(() => {
        const x = tf.tensor(input.x.subarray(start * input.cols, (start + rows) * input.cols), [rows, ...inputShape], 'float32');
        return tf.reshape(this.model.predict(x) as tf.Tensor, [rows, -1]).arraySync() as number[][];
      });
      for (const row of values) out.push(decode(this.meta, row));
    }
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Loads `model.json` + `weights.bin` of a folder whose metadata says it is a tfjs network. */
export async function loadLayersPredictor(dir: string, meta: ModelMeta): Promise<Predictor> {
  return new LayersPredictor(meta as LayersMeta, await loadLayersModel(dir));
}
