import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyNormalizer, parseCsv, parseJsonl, readIdxSamples } from './data';
import { readText } from './data/files';
import { Table } from './data/table';
import { DataError } from './errors';
import { MODEL_META, ModelMeta, loadLayersModel } from './families';

/** One row's prediction: a class with its probabilities, or a number. */
export type Prediction = { label: number; probabilities: number[] } | { value: number };

/** Rows predicted per forward pass, to bound memory. */
const PREDICT_CHUNK_ROWS = 1024;

/** A trained model loaded for prediction, with what it needs to read and decode rows. */
export interface Predictor {
  model: tfl.LayersModel;
  meta: ModelMeta;
}

/**
 * Loads a model folder written by a tfleet job (`model.json`, `weights.bin`, `tfleet-model.json`).
 *
 * @throws DataError naming the folder when it is not one.
 */
export async function loadPredictor(dir: string): Promise<Predictor> {
  let meta: ModelMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, MODEL_META), 'utf8')) as ModelMeta;
  } catch (err) {
    throw new DataError(`${dir}: not a tfleet model folder (cannot read ${MODEL_META}: ${(err as Error).message})`, { cause: err });
  }
  if (!meta.reader) throw new DataError(`${dir}/${MODEL_META}: written by a tfleet without input readers; retrain the model to predict with it`);
  return { model: await loadLayersModel(dir), meta };
}

/**
 * Reads rows to predict the way the model's training data was read: same
 * format and fields (a label, if present, is ignored), same scaling, and
 * standardized with the saved normalizer.
 *
 * @throws DataError naming the file, line and field of a bad row, or a sample shape the model does not take.
 */
export async function readPredictionInput(meta: ModelMeta, file: string): Promise<Table> {
  const source = { ...meta.reader, path: file };
  let table: Table;
  if (meta.reader.format === 'idx') {
    table = await readIdxSamples(file, meta.reader.scale);
  } else {
    const text = await readText(file);
    table = meta.reader.format === 'csv'
      ? parseCsv(text, { ...source, features: meta.features.length ? [...meta.features] : undefined })
      : parseJsonl(text, source);
  }
  if (table.sampleShape.join() !== meta.sampleShape.join()) {
    throw new DataError(`${file}: samples of shape [${table.sampleShape.join(', ')}]; the model takes [${meta.sampleShape.join(', ')}]`);
  }
  if (meta.normalizer) applyNormalizer(table, meta.normalizer);
  return table;
}

/** Predicts every row of `input`, in chunks. */
export function predictRows(p: Predictor, input: Table): Prediction[] {
  const inputShape = (p.model.inputs[0].shape as number[]).slice(1);
  const out: Prediction[] = [];
  for (let start = 0; start < input.rows; start += PREDICT_CHUNK_ROWS) {
    const rows = Math.min(PREDICT_CHUNK_ROWS, input.rows - start);
    const values = tf.tidy(() => {
      const x = tf.tensor(input.x.subarray(start * input.cols, (start + rows) * input.cols), [rows, ...inputShape], 'float32');
      return tf.reshape(p.model.predict(x) as tf.Tensor, [rows, -1]).arraySync() as number[][];
    });
    for (const row of values) out.push(decode(p.meta, row));
  }
  return out;
}

function decode(meta: ModelMeta, row: number[]): Prediction {
  if (meta.head === 'squared') return { value: row[0] };
  const classes = meta.classes!;
  const probabilities = meta.head === 'sigmoid' ? [1 - row[0], row[0]] : row;
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
  return { label: classes[best], probabilities };
}
