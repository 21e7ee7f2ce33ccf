import { layersRule, softmaxClassifierReplica } from '../layers/replica';
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
  createReplica: (spec, info, seed) => softmaxClassifierReplica('rnn', info, spec.l2, (output) => buildRnn(spec, info, seed, output)),
};
