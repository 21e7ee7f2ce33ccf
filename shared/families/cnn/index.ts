import { layersRule, softmaxClassifierReplica } from '../layers/replica';
import { ModelFamily } from '../types';
import { buildCnn, checkCnnShapes } from './model';
import { CnnSpec, parseCnnSpec } from './spec';

/** Convolutional image classifier: a preset or a layer list (conv, pooling, dense, dropout, batch norm). */
export const cnnFamily: ModelFamily<CnnSpec> = {
  name: 'cnn',
  taskOf: () => 'classifier',
  parseSpec: parseCnnSpec,
  checkData: checkCnnShapes,
  ruleFor: layersRule,
  createReplica: (spec, info, seed) => softmaxClassifierReplica('cnn', info, spec.l2, (output) => buildCnn(spec, info, seed, output)),
};
