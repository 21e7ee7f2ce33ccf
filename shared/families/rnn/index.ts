import { softmaxClassifierReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { buildRnn, sequenceShape } from './model';
import { RnnSpec, parseRnnSpec } from './spec';
import { DataInfo } from '../types';

/** Recurrent sequence classifier: LSTM, GRU or simple RNN layers over numeric sequences or embedded tokens. */
/** Weights of the recurrent stack: each gate's input, recurrent and bias weights, times two directions when bidirectional, then the output layer. */
function rnnParameterCount(spec: RnnSpec, info: DataInfo): number {
  const gates = spec.cell === 'lstm' ? 4 : spec.cell === 'gru' ? 3 : 1;
  const directions = spec.bidirectional ? 2 : 1;
  let n = 0;
  let input = spec.embedding ? spec.embedding.dim : (info.sampleShape.length === 2 ? info.sampleShape[1] : 1);
  if (spec.embedding) n += spec.embedding.vocabulary * spec.embedding.dim;
  for (const h of spec.hidden) {
    n += directions * gates * (h * (input + h) + h);
    input = directions * h;
  }
  return n + (input + 1) * info.classes!.length;
}

export const rnnFamily = gradientFamily<RnnSpec>({
  name: 'rnn',
  taskOf: () => 'classifier',
  parseSpec: parseRnnSpec,
  checkData: (spec, info) => void sequenceShape(spec, info),
  parameterCount: (spec, info) => (info.text ? 0 : rnnParameterCount(spec, info)),
  readsRawValues: (spec) => spec.embedding !== null,
  createReplica: (spec, info, seed) => softmaxClassifierReplica('rnn', info, spec.l2, (output) => buildRnn(spec, info, seed, output)),
});
