import { getFamily } from './families/registry';
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
  return getFamily(meta.family).loadPredictor(dir, meta);
}
