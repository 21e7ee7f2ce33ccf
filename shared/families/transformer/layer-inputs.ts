import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

// The transformer's layers take x [batch, steps, dim] and, for token input, a padding mask [batch, steps] beside it.

/** The options every tfjs layer takes (name, trainable, inputShape, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** What tfjs-layers passes to `call()` besides the inputs (`training`, `mask`). */
export type CallArgs = { [key: string]: unknown };

/** The input shapes of a layer taking x and an optional mask. */
export function shapesOf(inputShape: tfl.Shape | tfl.Shape[]): [tfl.Shape, tfl.Shape | undefined] {
  if (Array.isArray(inputShape[0])) {
    const shapes = inputShape as tfl.Shape[];
    return [shapes[0], shapes[1]];
  }
  return [inputShape as tfl.Shape, undefined];
}

/** The inputs of a layer taking x and an optional mask. */
export function tensorsOf(inputs: tf.Tensor | tf.Tensor[]): [tf.Tensor, tf.Tensor | undefined] {
  return Array.isArray(inputs) ? [inputs[0], inputs[1]] : [inputs, undefined];
}
