import * as tfl from '@tensorflow/tfjs-layers';
import { Head } from '../layers/heads';
import { DataInfo } from '../types';
import { DenseSpec } from './spec';

/** Units of the output layer: one for linear and logistic, one per class otherwise. */
export function outputUnits(spec: DenseSpec, info: DataInfo): number {
  return spec.family === 'linear' || spec.family === 'logistic' ? 1 : info.classes!.length;
}

/** How the family's output is scored. */
export function denseHead(spec: DenseSpec): Head {
  if (spec.family === 'linear') return 'squared';
  return spec.family === 'logistic' ? 'sigmoid' : 'softmax';
}

/**
 * Builds the family's network. Training uses a linear output (logits) so
 * the loss is computed stably from logits; the saved model uses the
 * serving activation. Initializers are seeded per layer, so every rank
 * builds the same initial weights.
 */
export function buildDenseModel(
  spec: DenseSpec,
  info: DataInfo,
  seed: number,
  output: 'linear' | 'sigmoid' | 'softmax',
): tfl.Sequential {
  const model = tfl.sequential();
  let inputShape: number[] | undefined = [info.numFeatures];
  spec.hidden.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        units,
        activation: spec.activation,
        inputShape,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
        name: `hidden_${i}`,
      }),
    );
    inputShape = undefined;
    if (spec.dropout > 0) model.add(tfl.layers.dropout({ rate: spec.dropout, name: `dropout_${i}` }));
  });
  model.add(
    tfl.layers.dense({
      units: outputUnits(spec, info),
      activation: output,
      inputShape,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + spec.hidden.length }),
      name: 'output',
    }),
  );
  return model;
}
