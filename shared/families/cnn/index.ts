import { softmaxClassifierReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { buildCnn, checkCnnShapes, cnnParameterCount } from './model';
import { CnnSpec, parseCnnSpec } from './spec';

/** Convolutional image classifier: a preset or a layer list (conv, pooling, dense, dropout, batch norm). */
export const cnnFamily = gradientFamily<CnnSpec>({
  name: 'cnn',
  taskOf: () => 'classifier',
  parseSpec: parseCnnSpec,
  checkData: checkCnnShapes,
  parameterCount: cnnParameterCount,
  createReplica: (spec, info, seed) => softmaxClassifierReplica('cnn', info, spec.l2, (output) => buildCnn(spec, info, seed, output)),
});
