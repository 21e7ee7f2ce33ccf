import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getFamily } from '../../../shared/families';
import { buildCnn } from '../../../shared/families/cnn/model';
import { buildDenseModel } from '../../../shared/families/dense/model';
import { buildRnn } from '../../../shared/families/rnn/model';
import { buildTransformer } from '../../../shared/families/transformer/model';
import { DataInfo } from '../../../shared/families/types';

const info = (sampleShape: number[], classes: number, valueRange: [number, number] = [0, 1]): DataInfo => ({
  numFeatures: sampleShape.reduce((a, b) => a * b, 1), featureNames: [], sampleShape, labelName: 'y', valueRange,
  classes: Array.from({ length: classes }, (_, i) => i), missingValues: 0,
});

/** The count a family gives before training against the built network's own. */
function compare(family: string, model: Record<string, unknown>, data: DataInfo, build: (spec: never, info: DataInfo) => { countParams(): number; dispose?: () => void }): void {
  const f = getFamily(family);
  const spec = f.parseSpec({ family, ...model });
  const built = build(spec as never, data);
  expect(f.parameterCount!(spec, data), `${family} ${JSON.stringify(model)}`).toBe(built.countParams());
}

describe('parameter counts from the spec, before any worker builds the model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('match the built network for the dense families', () => {
    for (const [family, model, classes] of [['mlp', { hidden: [7, 5] }, 3], ['softmax', {}, 4], ['logistic', {}, 2], ['linear', {}, 0]] as const) {
      const data = family === 'linear' ? { ...info([6], 2), classes: null } : info([6], classes);
      compare(family, model, data, (spec, i) => buildDenseModel(spec, i, 1, 'linear'));
    }
  });

  it('match the built network for CNNs, presets and layer lists', () => {
    compare('cnn', { preset: 'two-conv' }, info([28, 28], 10), (spec, i) => buildCnn(spec, i, 1, 'linear'));
    compare('cnn', { layers: [{ type: 'conv2d', filters: 3, kernelSize: 3, padding: 'same' }, { type: 'batchNorm' }, { type: 'maxPool2d', poolSize: 2 }, { type: 'dense', units: 4 }] },
      info([8, 8], 3), (spec, i) => buildCnn(spec, i, 1, 'linear'));
  });

  it('match the built network for recurrent stacks', () => {
    for (const model of [{ cell: 'lstm', hidden: [4] }, { cell: 'gru', hidden: [3, 2] }, { cell: 'simpleRnn', hidden: [5], bidirectional: true }, { cell: 'lstm', hidden: [4], embedding: { vocabulary: 20, dim: 6 } }]) {
      const data = 'embedding' in model ? info([5], 3, [0, 19]) : info([5, 2], 3);
      compare('rnn', model, data, (spec, i) => buildRnn(spec, i, 1, 'linear'));
    }
  });

  it('match the built network for transformers', () => {
    compare('transformer', { layers: 2, dim: 8, heads: 2, ffDim: 16 }, info([6, 3], 3), (spec, i) => buildTransformer(spec, i, 1, 'linear'));
    compare('transformer', { layers: 1, dim: 8, heads: 2, ffDim: 16, embedding: { vocabulary: 30, dim: 4 } }, info([6], 2, [0, 29]), (spec, i) => buildTransformer(spec, i, 1, 'linear'));
  });
});
