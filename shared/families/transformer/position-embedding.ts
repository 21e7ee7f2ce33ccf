import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayerArgs } from './layer-inputs';

/** The options of {@link PositionEmbedding}, serialized by its `getConfig()`. */
export interface PositionEmbeddingArgs extends LayerArgs {
  /** Seed of the positions' normal initializer (standard deviation 0.02); null draws them unseeded. @default null */
  seed?: number | null;
}

/**
 * A learned position embedding: one trainable vector per step, [steps, dim],
 * added to each sample's [steps, dim] input (self-attention alone does not
 * see the order of the steps). The steps are fixed when the layer is built.
 *
 * @example
 * const x = new PositionEmbedding({ seed: 7, name: 'positions' }).apply(tokens) as tfl.SymbolicTensor; // [null, 28, 64]
 */
export class PositionEmbedding extends tfl.layers.Layer {
  static className = 'PositionEmbedding';
  readonly seed: number | null;
  private positions: tfl.LayerVariable | null = null;

  constructor(args: PositionEmbeddingArgs = {}) {
    super(args);
    this.seed = args.seed ?? null;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = inputShape as tfl.Shape;
    const [, steps, dim] = shape;
    tf.util.assert(shape.length === 3 && steps !== null && dim !== null, () => `PositionEmbedding: input must be [batch, steps, dim] with steps and dim known, got [${shape.join(', ')}]`);
    const initializer = tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: this.seed ?? undefined });
    this.positions = this.addWeight('positions', [steps, dim], 'float32', initializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return inputShape as tfl.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.add(Array.isArray(inputs) ? inputs[0] : inputs, this.positions!.read()));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(PositionEmbedding);
