import { SpecError } from '../../errors';
import { SpecFields } from '../spec-fields';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'linear';
const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid', 'elu', 'linear'];

/** One layer of a CNN's layer list; the output layer (one unit per class) is added after them. */
export type CnnLayer =
  | { type: 'conv2d'; filters: number; kernelSize: number; strides: number; padding: 'valid' | 'same'; activation: Activation }
  | { type: 'maxPool2d' | 'avgPool2d'; poolSize: number; strides: number }
  | { type: 'globalAvgPool2d' | 'flatten' | 'batchNorm' }
  | { type: 'dense'; units: number; activation: Activation }
  | { type: 'dropout'; rate: number };

export const CNN_LAYER_TYPES = ['conv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool2d', 'flatten', 'batchNorm', 'dense', 'dropout'] as const;

/**
 * Named layer lists. `two-conv` is the network of the TensorFlow Fashion-MNIST
 * tutorial: conv(32, 3×3)-pool-conv(64, 3×3)-pool-dense(128).
 */
export const CNN_PRESETS: Record<string, CnnLayer[]> = {
  'two-conv': [
    { type: 'conv2d', filters: 32, kernelSize: 3, strides: 1, padding: 'valid', activation: 'relu' },
    { type: 'maxPool2d', poolSize: 2, strides: 2 },
    { type: 'conv2d', filters: 64, kernelSize: 3, strides: 1, padding: 'valid', activation: 'relu' },
    { type: 'maxPool2d', poolSize: 2, strides: 2 },
    { type: 'dense', units: 128, activation: 'relu' },
  ],
  'two-conv-bn': [
    { type: 'conv2d', filters: 32, kernelSize: 3, strides: 1, padding: 'same', activation: 'linear' },
    { type: 'batchNorm' },
    { type: 'maxPool2d', poolSize: 2, strides: 2 },
    { type: 'conv2d', filters: 64, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' },
    { type: 'maxPool2d', poolSize: 2, strides: 2 },
    { type: 'dropout', rate: 0.25 },
    { type: 'dense', units: 128, activation: 'relu' },
  ],
};

export interface CnnSpec {
  family: 'cnn';
  layers: CnnLayer[];
  l2: number;
}

function parseLayer(f: SpecFields): CnnLayer {
  const type = f.oneOf('type', CNN_LAYER_TYPES);
  switch (type) {
    case 'conv2d':
      f.only(['type', 'filters', 'kernelSize', 'strides', 'padding', 'activation'], "a 'conv2d' layer");
      return {
        type,
        filters: f.int('filters', { min: 1, max: 4096 }),
        kernelSize: f.int('kernelSize', { min: 1, max: 64 }),
        strides: f.int('strides', { min: 1, max: 64, default: 1 }),
        padding: f.oneOf('padding', ['valid', 'same'], 'valid'),
        activation: f.oneOf('activation', ACTIVATIONS, 'relu'),
      };
    case 'maxPool2d':
    case 'avgPool2d': {
      f.only(['type', 'poolSize', 'strides'], `a '${type}' layer`);
      const poolSize = f.int('poolSize', { min: 1, max: 64, default: 2 });
      return { type, poolSize, strides: f.int('strides', { min: 1, max: 64, default: poolSize }) };
    }
    case 'dense':
      f.only(['type', 'units', 'activation'], "a 'dense' layer");
      return { type, units: f.int('units', { min: 1, max: 65536 }), activation: f.oneOf('activation', ACTIVATIONS, 'relu') };
    case 'dropout':
      f.only(['type', 'rate'], "a 'dropout' layer");
      return { type, rate: f.fraction('rate', 0.5) };
    default:
      f.only(['type'], `a '${type}' layer`);
      return { type };
  }
}

/** @throws SpecError naming the field, e.g. 'model.layers[2].filters'. */
export function parseCnnSpec(model: Record<string, unknown>): CnnSpec {
  const f = new SpecFields(model, 'model');
  f.only(['family', 'preset', 'layers', 'l2'], "family 'cnn'");
  if (f.has('preset') && f.has('layers')) throw new SpecError('model.layers', "cannot be given with 'preset': choose a named network or list the layers");
  const listed = f.objects('layers');
  const layers = listed ? listed.map(parseLayer) : CNN_PRESETS[f.oneOf('preset', Object.keys(CNN_PRESETS), 'two-conv')];
  return { family: 'cnn', layers, l2: (model.l2 as number | undefined) ?? 0 };
}
