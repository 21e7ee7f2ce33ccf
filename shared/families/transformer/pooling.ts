import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayerArgs, shapesOf, tensorsOf } from './layer-inputs';

/** The token id that pads a sequence to its length. */
export const PAD_ID = 0;

/**
 * Token ids [batch, length] → a mask [batch, length]: 1 where a token is,
 * 0 where the sequence is padded ({@link PAD_ID}).
 */
export class PaddingMask extends tfl.layers.Layer {
  static className = 'PaddingMask';

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return inputShape as tfl.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.cast(tf.notEqual(tensorsOf(inputs)[0], PAD_ID), 'float32'));
  }
}
tf.serialization.registerClass(PaddingMask);

/** How {@link SequencePooling} makes one vector of a sample's steps. */
export type PoolingMode = 'mean' | 'first';

/** The options of {@link SequencePooling}, serialized by its `getConfig()`. */
export interface SequencePoolingArgs extends LayerArgs {
  /** 'mean' of the steps (of the unmasked ones when a mask is given) or the 'first' step's vector. */
  mode: PoolingMode;
}

/**
 * [batch, steps, dim] → [batch, dim]: the mean over the steps, or the first
 * step. With a mask [batch, steps] as a second input, the mean is over the
 * steps whose mask is 1 (a sequence of padding only pools to zeros).
 */
export class SequencePooling extends tfl.layers.Layer {
  static className = 'SequencePooling';
  readonly mode: PoolingMode;

  constructor(args: SequencePoolingArgs) {
    super(args);
    tf.util.assert(args.mode === 'mean' || args.mode === 'first', () => `SequencePooling: mode must be 'mean' or 'first', got ${JSON.stringify(args.mode)}`);
    this.mode = args.mode;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [x] = shapesOf(inputShape);
    return [x[0], x[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, mask] = tensorsOf(inputs);
      const dim = x.shape[2]!;
      if (this.mode === 'first') return tf.reshape(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [-1, dim]);
      if (!mask) return tf.mean(x, 1);
      const summed = tf.sum(tf.mul(x, tf.expandDims(mask, 2)), 1);
      return tf.div(summed, tf.maximum(tf.sum(mask, 1, true), 1));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }
}
tf.serialization.registerClass(SequencePooling);
