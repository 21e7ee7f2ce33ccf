import { DataError } from '../../errors';
import { DataInfo, ModelFamily } from '../types';
import { AlsProgram } from './als-program';
import { BaselineAlsProgram } from './baseline-program';
import { KnnProgram } from './knn-program';
import { loadRecommenderPredictor } from './predictor';
import { SgdProgram } from './sgd-program';
import { BaselineSpec, KnnSpec, MfSpec, parseBaselineSpec, parseKnnSpec, parseMfSpec } from './spec';

export { readRecommender } from './model-files';
export type { LoadedRecommender } from './model-files';
export { topItems } from './evaluate';

function checkRatings(family: string, info: DataInfo): void {
  if (!info.ratings) throw new DataError(`family '${family}' trains on ratings: set data.train.format to 'ratings' (rows of user, item, rating)`);
}

/** Biased matrix factorization: Surprise's SVD by per-rating SGD, or alternating least squares. */
export const mfFamily: ModelFamily<MfSpec> = {
  name: 'mf',
  training: 'none',
  taskOf: () => 'regressor',
  parseSpec: parseMfSpec,
  checkData: (_spec, info) => checkRatings('mf', info),
  readsRawValues: () => true,
  groupRatingsBy: () => 'user',
  rounds: (spec) => spec.epochs,
  createProgram: async (spec, job) => (spec.solver === 'als' ? new AlsProgram(job, spec) : new SgdProgram(job, spec)),
  loadPredictor: loadRecommenderPredictor,
};

/** Global mean plus user and item biases (Surprise's BaselineOnly), by ALS or SGD. */
export const baselineFamily: ModelFamily<BaselineSpec> = {
  name: 'baseline',
  training: 'none',
  taskOf: () => 'regressor',
  parseSpec: parseBaselineSpec,
  checkData: (_spec, info) => checkRatings('baseline', info),
  readsRawValues: () => true,
  groupRatingsBy: () => 'user',
  rounds: (spec) => spec.epochs,
  createProgram: async (spec, job) => (spec.method === 'als' ? new BaselineAlsProgram(job, spec) : new SgdProgram(job, spec)),
  loadPredictor: loadRecommenderPredictor,
};

/** Neighbourhood collaborative filtering, user- or item-based (Surprise's KNNBasic, KNNWithMeans, KNNBaseline). */
export const knnFamily: ModelFamily<KnnSpec> = {
  name: 'knn',
  training: 'none',
  taskOf: () => 'regressor',
  parseSpec: parseKnnSpec,
  checkData: (_spec, info) => checkRatings('knn', info),
  readsRawValues: () => true,
  // The co-rating sums of two users run over items: each rank holds whole items; of two items, whole users.
  groupRatingsBy: (spec) => (spec.basedOn === 'user' ? 'item' : 'user'),
  rounds: () => 1,
  createProgram: async (spec, job) => new KnnProgram(job, spec),
  loadPredictor: loadRecommenderPredictor,
};
