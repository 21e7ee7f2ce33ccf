import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CallArgs, LayerArgs, shapesOf, tensorsOf } from './layer-inputs';

/** Score added to a padded key: softmax then gives it a weight of exactly 0 in float32. */
const MASKED_SCORE = -1e9;

/** The options of {@link MultiHeadSelfAttention}, serialized by its `getConfig()`. */
export interface MultiHeadSelfAttentionArgs extends LayerArgs {
  /** Attention heads; each works on dim / heads of the input's last axis, which they must divide. */
  heads: number;
  /** Rate of dropout on the attention weights while training. @default 0 */
  dropout?: number;
  /** Seed of the projections' Glorot-uniform initializers; null draws them unseeded. @default null */
  seed?: number | null;
}

/** A dense projection of the last axis: kernel [in, out] and bias [out]. */
interface Projection {
  kernel: tfl.LayerVariable;
  bias: tfl.LayerVariable;
}

/**
 * Multi-head scaled dot-product self-attention (Vaswani et al. 2017), which
 * tfjs-layers 4.22 lacks: [batch, steps, dim] in, [batch, steps, dim] out,
 * with query, key, value and output projections (kernels and biases).
 *
 * An optional second input [batch, steps] marks the keys that may be
 * attended to (1) and those that may not (0, padding): a masked key gets
 * exactly zero weight from every query. {@link PaddingMask} makes it from
 * token ids.
 *
 * Each weight is read once per call, so a gradient tap sees its whole
 * gradient during the backward pass. The key bias adds the same q·b to all
 * of a query's scores, which softmax ignores: its gradient is 0 and it stays
 * at its initial zeros. It is kept, as Keras's MultiHeadAttention keeps it,
 * so that the four projections are alike.
 *
 * @example
 * const attention = new MultiHeadSelfAttention({ heads: 4, dropout: 0.1, seed: 7, name: 'attention' });
 * const y = attention.apply([x, mask]) as tfl.SymbolicTensor; // x [null, 28, 64], mask [null, 28]
 */
export class MultiHeadSelfAttention extends tfl.layers.Layer {
  static className = 'MultiHeadSelfAttention';
  readonly heads: number;
  readonly dropout: number;
  readonly seed: number | null;
  private projections: { query: Projection; key: Projection; value: Projection; out: Projection } | null = null;

  constructor(args: MultiHeadSelfAttentionArgs) {
    super(args);
    tf.util.assert(Number.isInteger(args.heads) && args.heads >= 1, () => `MultiHeadSelfAttention: heads must be an integer ≥ 1, got ${args.heads}`);
    this.heads = args.heads;
    this.dropout = args.dropout ?? 0;
    this.seed = args.seed ?? null;
    tf.util.assert(this.dropout >= 0 && this.dropout < 1, () => `MultiHeadSelfAttention: dropout must be in [0, 1), got ${this.dropout}`);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const [x, mask] = shapesOf(inputShape);
    const dim = x[x.length - 1];
    tf.util.assert(x.length === 3 && dim !== null, () => `MultiHeadSelfAttention: input must be [batch, steps, dim] with dim known, got [${x.join(', ')}]`);
    tf.util.assert(dim! % this.heads === 0, () => `MultiHeadSelfAttention: ${this.heads} heads must divide dim ${dim}`);
    tf.util.assert(mask === undefined || (mask.length === 2 && mask[1] === x[1]), () => `MultiHeadSelfAttention: the mask must be [batch, ${x[1]}], got [${mask!.join(', ')}]`);
    const projection = (name: string, i: number): Projection => ({
      kernel: this.addWeight(`${name}_kernel`, [dim, dim], 'float32', tfl.initializers.glorotUniform({ seed: this.seed === null ? undefined : this.seed + i })),
      bias: this.addWeight(`${name}_bias`, [dim], 'float32', tfl.initializers.zeros()),
    });
    this.projections = { query: projection('query', 0), key: projection('key', 1), value: projection('value', 2), out: projection('output', 3) };
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return shapesOf(inputShape)[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: CallArgs): tf.Tensor {
    return tf.tidy(() => {
      const [x, mask] = tensorsOf(inputs);
      let weights: tf.Tensor = this.attentionWeights(x, mask);
      if (kwargs.training === true && this.dropout > 0) weights = tf.dropout(weights, this.dropout);
      const p = this.weightsOrThrow();
      const context = tf.matMul(weights, this.splitHeads(project(x, p.value)));
      return project(this.mergeHeads(context), p.out);
    });
  }

  /**
   * The softmax attention weights [batch, heads, steps (queries), steps (keys)]
   * of a built layer, before dropout; a key whose mask is 0 gets weight 0.
   */
  attentionWeights(x: tf.Tensor, mask?: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const p = this.weightsOrThrow();
      const headDim = x.shape[2]! / this.heads;
      const q = this.splitHeads(project(x, p.query));
      const k = this.splitHeads(project(x, p.key));
      let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim));
      if (mask) scores = tf.add(scores, tf.mul(tf.sub(1, tf.reshape(mask, [-1, 1, 1, x.shape[1]!])), MASKED_SCORE));
      return tf.softmax(scores) as tf.Tensor4D;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads, dropout: this.dropout, seed: this.seed };
  }

  /** The projections' weights; @throws when the layer has not been built (applied to an input) yet. */
  private weightsOrThrow(): NonNullable<MultiHeadSelfAttention['projections']> {
    tf.util.assert(this.projections !== null, () => `MultiHeadSelfAttention '${this.name}' is used before it was built`);
    return this.projections!;
  }

  /** [batch, steps, dim] → [batch, heads, steps, dim / heads]. */
  private splitHeads(t: tf.Tensor): tf.Tensor4D {
    const [, steps, dim] = t.shape;
    return tf.transpose(tf.reshape(t, [-1, steps!, this.heads, dim! / this.heads]), [0, 2, 1, 3]);
  }

  /** [batch, heads, steps, dim / heads] → [batch, steps, dim]. */
  private mergeHeads(t: tf.Tensor): tf.Tensor3D {
    const [, heads, steps, headDim] = t.shape;
    return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [-1, steps!, heads! * headDim!]);
  }
}
tf.serialization.registerClass(MultiHeadSelfAttention);

/** x [batch, steps, in] times the kernel [in, out] plus the bias: [batch, steps, out]. */
function project(x: tf.Tensor, p: Projection): tf.Tensor3D {
  const [, steps, dim] = x.shape;
  const kernel = p.kernel.read();
  const flat = tf.add(tf.matMul(tf.reshape(x, [-1, dim!]), kernel), p.bias.read());
  return tf.reshape(flat, [-1, steps!, kernel.shape[1]!]);
}
