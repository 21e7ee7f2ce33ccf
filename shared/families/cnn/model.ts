import * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../../errors';
import { DataInfo } from '../types';
import { CnnLayer, CnnSpec } from './spec';

/** [height, width, channels] of the data's samples, or why they are not images. */
export function imageShape(info: DataInfo): [number, number, number] {
  const s = info.sampleShape;
  if (s.length === 2) return [s[0], s[1], 1];
  if (s.length === 3) return [s[0], s[1], s[2]];
  throw new DataError(`family 'cnn' needs image samples ([height, width] or [height, width, channels], as IDX images are), got samples of shape [${s.join(', ')}]`);
}

function toLayer(l: CnnLayer, i: number, seed: number): tfl.layers.Layer {
  const name = `${l.type}_${i}`;
  const kernelInitializer = tfl.initializers.glorotUniform({ seed: seed + i });
  switch (l.type) {
    case 'conv2d':
      return tfl.layers.conv2d({ filters: l.filters, kernelSize: l.kernelSize, strides: l.strides, padding: l.padding, activation: l.activation, kernelInitializer, name });
    case 'maxPool2d':
      return tfl.layers.maxPooling2d({ poolSize: l.poolSize, strides: l.strides, name });
    case 'avgPool2d':
      return tfl.layers.averagePooling2d({ poolSize: l.poolSize, strides: l.strides, name });
    case 'globalAvgPool2d':
      return tfl.layers.globalAveragePooling2d({ name });
    case 'flatten':
      return tfl.layers.flatten({ name });
    case 'batchNorm':
      return tfl.layers.batchNormalization({ name });
    case 'dense':
      return tfl.layers.dense({ units: l.units, activation: l.activation, kernelInitializer, name });
    case 'dropout':
      return tfl.layers.dropout({ rate: l.rate, name });
  }
}

/**
 * Walks the layers' output shapes symbolically (no weights, no backend, so
 * the coordinator can check a spec at submit).
 *
 * @throws DataError naming the first layer that shrinks the image below one pixel.
 */
export function checkCnnShapes(spec: CnnSpec, info: DataInfo): void {
  let shape: (number | null)[] = [null, ...imageShape(info)];
  spec.layers.forEach((l, i) => {
    if (l.type === 'dense' && shape.length > 2) shape = [null, shape.slice(1).reduce((a, b) => a! * b!, 1)];
    const next = toLayer(l, i, 0).computeOutputShape(shape) as (number | null)[];
    if (next.slice(1).some((d) => d === null || d < 1)) {
      throw new DataError(`model.layers[${i}] (${l.type}) turns samples of shape [${shape.slice(1).join(', ')}] into [${next.slice(1).join(', ')}]: the image is too small for this network`);
    }
    shape = next;
  });
}

/**
 * Trainable parameters (and batch-norm statistics) of the CNN, from the
 * layers' output shapes walked as {@link checkCnnShapes} does: no weights
 * are made.
 */
export function cnnParameterCount(spec: CnnSpec, info: DataInfo): number {
  let shape: (number | null)[] = [null, ...imageShape(info)];
  let n = 0;
  spec.layers.forEach((l, i) => {
    if (l.type === 'dense' && shape.length > 2) shape = [null, shape.slice(1).reduce((a, b) => a! * b!, 1)];
    const last = shape[shape.length - 1] ?? 0;
    if (l.type === 'conv2d') n += l.kernelSize * l.kernelSize * last * l.filters + l.filters;
    else if (l.type === 'dense') n += (last + 1) * l.units;
    else if (l.type === 'batchNorm') n += 4 * last;
    shape = toLayer(l, i, 0).computeOutputShape(shape) as (number | null)[];
  });
  const features = shape.slice(1).reduce((a, b) => a! * b!, 1)!;
  return n + (features + 1) * info.classes!.length;
}

/**
 * Builds the CNN: the listed layers, a flatten before the first dense layer
 * that meets an image, and an output layer with one unit per class.
 *
 * @throws DataError when a layer shrinks the image below one pixel.
 */
export function buildCnn(spec: CnnSpec, info: DataInfo, seed: number, output: 'linear' | 'softmax'): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.inputLayer({ inputShape: imageShape(info), name: 'image' }));
  const rank = (): number => model.outputs[0].shape.length;
  checkCnnShapes(spec, info);
  spec.layers.forEach((l, i) => {
    if (l.type === 'dense' && rank() > 2) model.add(tfl.layers.flatten({ name: `flatten_before_${i}` }));
    model.add(toLayer(l, i, seed));
  });
  if (rank() > 2) model.add(tfl.layers.flatten({ name: 'flatten_output' }));
  model.add(tfl.layers.dense({
    units: info.classes!.length, activation: output, name: 'output', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + spec.layers.length }),
  }));
  return model;
}
