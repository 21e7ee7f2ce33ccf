import { softmaxClassifierReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { buildRnn, sequenceShape } from './model';
import { RnnSpec, parseRnnSpec } from './spec';

/** Recurrent sequence classifier: LSTM, GRU or simple RNN layers over numeric sequences or embedded tokens. */
export const rnnFamily = gradientFamily<RnnSpec>({
  name: 'rnn',
  taskOf: () => 'classifier',
  parseSpec: parseRnnSpec,
  checkData: (spec, info) => void sequenceShape(spec, info),
  readsRawValues: (spec) => spec.embedding !== null,
  createReplica: (spec, info, seed) => softmaxClassifierReplica('rnn', info, spec.l2, (output) => buildRnn(spec, info, seed, output)),
});
