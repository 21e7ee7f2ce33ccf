import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { TensorMap } from '../../../shared/codec/host-tensor';
import { getFamily } from '../../../shared/families';
import { SUPPORTED_LAYERS } from '../../../shared/families/keras/topology';
import { GradientFamily } from '../../../shared/families/minibatch/gradient-family';
import { Batch } from '../../../shared/families/minibatch/replica';
import { DataInfo } from '../../../shared/families/types';
import { seededRandom } from '../../../shared/random';
import { selectBackend } from '../../../worker/backends/select';
import { BACKENDS_UNDER_TEST } from '../../harness/backends';

const L = tfl.layers;
const CLASSES = 3;

/** A small network around each supported layer class: [input shape, layers after the input, outputs of the final softmax]. */
function networkFor(cls: string): tfl.LayersModel {
  const seq = (inputShape: number[], layers: tfl.layers.Layer[]): tfl.LayersModel => {
    const model = tfl.sequential();
    model.add(L.inputLayer({ inputShape }));
    for (const l of layers) model.add(l);
    if (model.outputs[0].shape.length > 2) model.add(L.flatten());
    model.add(L.dense({ units: CLASSES, activation: 'softmax' }));
    return model;
  };
  const image = [5, 5, 2];
  const sequence = [5, 2];
  switch (cls) {
    case 'InputLayer': case 'Dense': return seq([6], [L.dense({ units: 4, activation: 'tanh' })]);
    case 'Dropout': return seq([6], [L.dense({ units: 4 }), L.dropout({ rate: 0.5 })]);
    case 'Flatten': return seq(sequence, [L.flatten()]);
    case 'Reshape': return seq([6], [L.reshape({ targetShape: [3, 2] })]);
    case 'Activation': return seq([6], [L.dense({ units: 4 }), L.activation({ activation: 'sigmoid' })]);
    case 'ReLU': return seq([6], [L.dense({ units: 4 }), L.reLU()]);
    case 'LeakyReLU': return seq([6], [L.dense({ units: 4 }), L.leakyReLU()]);
    case 'ELU': return seq([6], [L.dense({ units: 4 }), L.elu()]);
    case 'Softmax': {
      const model = tfl.sequential({ layers: [L.dense({ inputShape: [6], units: CLASSES }), L.softmax()] });
      return model;
    }
    case 'Conv1D': return seq(sequence, [L.conv1d({ filters: 3, kernelSize: 2, activation: 'relu' })]);
    case 'Conv2D': return seq(image, [L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' })]);
    case 'Conv2DTranspose': return seq(image, [L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2 })]);
    case 'MaxPooling1D': return seq(sequence, [L.conv1d({ filters: 3, kernelSize: 2 }), L.maxPooling1d({ poolSize: 2 })]);
    case 'AveragePooling1D': return seq(sequence, [L.conv1d({ filters: 3, kernelSize: 2 }), L.averagePooling1d({ poolSize: 2 })]);
    case 'MaxPooling2D': return seq(image, [L.conv2d({ filters: 3, kernelSize: 2 }), L.maxPooling2d({ poolSize: 2 })]);
    case 'AveragePooling2D': return seq(image, [L.conv2d({ filters: 3, kernelSize: 2 }), L.averagePooling2d({ poolSize: 2 })]);
    case 'GlobalAveragePooling1D': return seq(sequence, [L.conv1d({ filters: 3, kernelSize: 2 }), L.globalAveragePooling1d()]);
    case 'GlobalMaxPooling1D': return seq(sequence, [L.conv1d({ filters: 3, kernelSize: 2 }), L.globalMaxPooling1d()]);
    case 'GlobalAveragePooling2D': return seq(image, [L.conv2d({ filters: 3, kernelSize: 2 }), L.globalAveragePooling2d({})]);
    case 'GlobalMaxPooling2D': return seq(image, [L.conv2d({ filters: 3, kernelSize: 2 }), L.globalMaxPooling2d({})]);
    case 'BatchNormalization': return seq(image, [L.conv2d({ filters: 3, kernelSize: 2 }), L.batchNormalization()]);
    case 'LayerNormalization': return seq([6], [L.dense({ units: 4 }), L.layerNormalization()]);
    case 'ZeroPadding2D': return seq(image, [L.zeroPadding2d({ padding: 1 }), L.conv2d({ filters: 2, kernelSize: 3 })]);
    case 'Embedding': return seq([5], [L.embedding({ inputDim: 7, outputDim: 3 })]);
    case 'LSTM': return seq(sequence, [L.lstm({ units: 4, returnSequences: true }), L.lstm({ units: 3 })]);
    case 'GRU': return seq(sequence, [L.gru({ units: 4 })]);
    case 'SimpleRNN': return seq(sequence, [L.simpleRNN({ units: 4 })]);
    case 'Bidirectional': return seq(sequence, [L.bidirectional({ layer: L.lstm({ units: 3 }) as tfl.RNN })]);
    case 'Add':
    case 'Concatenate': {
      const input = tfl.input({ shape: [6] });
      const a = L.dense({ units: 4, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
      const b = L.dense({ units: 4 }).apply(input) as tfl.SymbolicTensor;
      const merged = (cls === 'Add' ? L.add() : L.concatenate()).apply([a, b]) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: L.dense({ units: CLASSES, activation: 'softmax' }).apply(merged) as tfl.SymbolicTensor });
    }
    default: throw new Error(`no test network for supported layer '${cls}'`);
  }
}

function batchFor(shape: number[], tokens: boolean): Batch {
  const rand = seededRandom(5);
  const rows = 6;
  const cols = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: rows * cols }, () => (tokens ? Math.floor(rand() * 7) : rand() * 2 - 1));
  return { rows, cols, x, y: Float32Array.from({ length: rows }, (_, i) => i % CLASSES) };
}

function norm(a: Float32Array): number {
  return Math.sqrt(a.reduce((s, v) => s + v * v, 0));
}

/**
 * Error of `a` against `b` relative to b's norm, or to a thousandth of the
 * whole gradient's norm when b is near zero (a conv bias before batch norm
 * has an exactly-zero gradient, computed as rounding noise on both backends).
 */
function relativeError(a: Float32Array, b: Float32Array, total: number): number {
  return norm(a.map((v, i) => v - b[i])) / Math.max(norm(b), 1e-3 * total, 1e-30);
}

describe('keras topologies: every supported layer trains on wasm with the gradients of cpu', () => {
  const keras = getFamily('keras') as GradientFamily<unknown>;
  it.each([...SUPPORTED_LAYERS])('%s', async (cls) => {
    await selectBackend('cpu');
    const network = networkFor(cls);
    const topology = network.toJSON(null, false);
    network.dispose();
    const spec = keras.parseSpec({ family: 'keras', topology });
    const shape = (spec as { inputShape: number[] }).inputShape;
    const info: DataInfo = { numFeatures: shape.reduce((a, b) => a * b, 1), featureNames: [], sampleShape: shape, valueRange: [0, 6], labelName: 'y', classes: [0, 1, 2], missingValues: 0 };
    keras.checkData(spec, info);
    const batch = batchFor(shape, cls === 'Embedding');
    const grads: TensorMap[] = [];
    let params: TensorMap | null = null;
    for (const backend of BACKENDS_UNDER_TEST) {
      await selectBackend(backend);
      const replica = await keras.createReplica(spec, info, 1);
      params ??= replica.initialParams();
      const stat = replica.localStep(batch, params);
      expect(Number.isFinite(stat.lossSum)).toBe(true);
      grads.push(stat.tensors);
      replica.dispose();
    }
    // Dropout draws different masks on each backend; it only has to train.
    if (cls === 'Dropout') return;
    const total = Math.sqrt([...grads[0].values()].reduce((s, g) => s + norm(g.data) ** 2, 0));
    for (const other of grads.slice(1)) {
      for (const [key, g] of grads[0]) expect(relativeError(other.get(key)!.data, g.data, total), key).toBeLessThan(1e-3);
    }
  });

  it('refuses unsupported layers at parse time, naming them', () => {
    const model = tfl.sequential({ layers: [L.depthwiseConv2d({ inputShape: [5, 5, 2], kernelSize: 3 }), L.flatten(), L.dense({ units: 3, activation: 'softmax' })] });
    const topology = model.toJSON(null, false);
    model.dispose();
    expect(() => keras.parseSpec({ family: 'keras', topology })).toThrow("job spec: 'model.topology' uses layers tfleet cannot train: DepthwiseConv2D (supported: InputLayer, Dense");
  });
});
