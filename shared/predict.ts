import { FileSource } from './config/job-spec';
import { readTable } from './data/read';
import { getFamily } from './families/registry';
import { featurize, readTextFeatures } from './families/text/program';
import { readModelMeta } from './families/model-meta';
import { Prediction, Predictor } from './families/types';

export type { Prediction, Predictor };

/**
 * Loads a model folder written by a tfleet job: its `tfleet-model.json`
 * names the family, whose predictor loads the rest.
 *
 * @throws DataError naming the folder when it is not one.
 * @example
 * const p = await loadPredictor('runs/j1');
 * const predictions = p.predict(await p.readInput('rows.csv'));
 */
export async function loadPredictor(dir: string): Promise<Predictor> {
  const meta = await readModelMeta(dir);
  const predictor = await getFamily(meta.family).loadPredictor(dir, meta);
  if (!meta.text) return predictor;
  // Raw text in: read the text field, then the features the model trained on.
  const { features, representation } = await readTextFeatures(dir);
  return {
    meta,
    // A headerless csv lists the label among its columns: the file then has that column too.
    readInput: async (file) => featurize(await readTable({ ...meta.reader, path: file, ...(meta.reader.columns?.includes(meta.label) ? { label: meta.label } : {}) } as FileSource), features, representation),
    predict: (input) => predictor.predict(input),
    dispose: () => predictor.dispose(),
  };
}
