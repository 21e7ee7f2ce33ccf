import { DataError } from '../../errors';
import { ModelFamily } from '../types';
import { ForestProgram, forestCriterion } from './forest-program';
import { GbdtProgram, gbdtObjective } from './gbdt-program';
import { ForestSpec, GbdtSpec, parseForestSpec, parseGbdtSpec } from './spec';
import { loadEnsemblePredictor } from './tree-model';

/** Histogram gradient-boosted trees (XGBoost / LightGBM 'hist'): squared error, logistic or softmax. */
export const gbdtFamily: ModelFamily<GbdtSpec> = {
  name: 'gbdt',
  training: 'none',
  acceptsMissing: true,
  taskOf: (spec) => (spec.objective === null ? 'auto' : spec.objective === 'squared' ? 'regressor' : 'classifier'),
  parseSpec: parseGbdtSpec,
  checkData: (spec, info) => {
    const objective = gbdtObjective(spec, info.classes);
    const k = info.classes?.length ?? 0;
    if (objective === 'logistic' && k !== 2) {
      throw new DataError(`label '${info.labelName}' has ${k} classes; objective 'logistic' is binary: use 'softmax' for more`);
    }
  },
  readsRawValues: () => true,
  rounds: (spec) => spec.rounds,
  createProgram: async (spec, job) => new GbdtProgram(job, spec),
  loadPredictor: loadEnsemblePredictor,
};

/** Random forest: bootstrap-weighted trees on the same histograms, Gini, entropy or variance splits. */
export const forestFamily: ModelFamily<ForestSpec> = {
  name: 'forest',
  training: 'none',
  acceptsMissing: true,
  taskOf: (spec) => (spec.criterion === null ? 'auto' : spec.criterion === 'variance' ? 'regressor' : 'classifier'),
  parseSpec: parseForestSpec,
  checkData: (spec, info) => void forestCriterion(spec, info.classes),
  readsRawValues: () => true,
  rounds: (spec) => spec.trees,
  createProgram: async (spec, job) => new ForestProgram(job, spec),
  loadPredictor: loadEnsemblePredictor,
};
