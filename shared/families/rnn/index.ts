import { LayersReplica, layersRule } from '../layers/replica';
import { ModelFamily } from '../types';
import { buildRnn, sequenceShape } from './model';
import { RnnSpec, parseRnnSpec } from './spec';

/** Recurrent sequence classifier: LSTM, GRU or simple RNN layers over numeric sequences or embedded tokens. */
export const rnnFamily: ModelFamily<RnnSpec> = {
  name: 'rnn',
  taskOf: () => 'classifier',
  parseSpec: parseRnnSpec,
  checkData: (spec, info) => void sequenceShape(spec, info),
  readsRawValues: (spec) => spec.embedding !== null,
  ruleFor: layersRule,
  createReplica: (spec, info, seed) => LayersReplica.create({
    family: 'rnn',
    head: 'softmax',
    info,
    l2: spec.l2,
    build: (serving) => buildRnn(spec, info, seed, serving ? 'softmax' : 'linear'),
  }),
};
