import * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../../errors';
import { DataInfo } from '../types';
import { RnnSpec } from './spec';

/**
 * The network's input shape: [length] token ids with an embedding,
 * [steps, features] for numeric sequences ([steps] is read as one feature
 * per step, and an image's rows are its steps).
 *
 * @throws DataError when the samples cannot feed this network.
 */
export function sequenceShape(spec: RnnSpec, info: DataInfo): number[] {
  const s = info.sampleShape;
  if (spec.embedding) {
    if (s.length !== 1) throw new DataError(`family 'rnn' with an embedding needs token sequences (samples of shape [length]), got [${s.join(', ')}]`);
    const [min, max] = info.valueRange;
    if (min < 0 || max >= spec.embedding.vocabulary) {
      throw new DataError(`token ids range over [${min}, ${max}] but model.embedding.vocabulary is ${spec.embedding.vocabulary}: ids must be in [0, ${spec.embedding.vocabulary - 1}]`);
    }
    return [s[0]];
  }
  if (s.length === 1) return [s[0], 1];
  if (s.length === 2) return [s[0], s[1]];
  throw new DataError(`family 'rnn' needs sequences (samples of shape [steps] or [steps, features]), got [${s.join(', ')}]`);
}

function recurrent(spec: RnnSpec, units: number, returnSequences: boolean, i: number, seed: number): tfl.RNN | tfl.layers.Layer {
  const args = {
    units,
    returnSequences,
    name: `${spec.cell}_${i}`,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 * i }),
    recurrentInitializer: tfl.initializers.orthogonal({ seed: seed + 2 * i + 1, gain: 1 }),
  };
  const layer = spec.cell === 'lstm' ? tfl.layers.lstm(args) : spec.cell === 'gru' ? tfl.layers.gru(args) : tfl.layers.simpleRNN(args);
  return spec.bidirectional ? tfl.layers.bidirectional({ layer: layer as tfl.RNN, name: `bidirectional_${i}` }) : layer;
}

/** Builds the RNN: an optional embedding, stacked recurrent layers, dropout, then one output unit per class. */
export function buildRnn(spec: RnnSpec, info: DataInfo, seed: number, output: 'linear' | 'softmax'): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.inputLayer({ inputShape: sequenceShape(spec, info), name: 'sequence' }));
  if (spec.embedding) {
    model.add(tfl.layers.embedding({
      inputDim: spec.embedding.vocabulary, outputDim: spec.embedding.dim, name: 'embedding',
      embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: seed + 1000 }),
    }));
  }
  spec.hidden.forEach((units, i) => model.add(recurrent(spec, units, i < spec.hidden.length - 1, i, seed)));
  if (spec.dropout > 0) model.add(tfl.layers.dropout({ rate: spec.dropout, name: 'dropout' }));
  model.add(tfl.layers.dense({
    units: info.classes!.length, activation: output, name: 'output', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 999 }),
  }));
  return model;
}
