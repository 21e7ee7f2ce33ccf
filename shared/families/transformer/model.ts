import * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../../errors';
import { DataInfo } from '../types';
import { MultiHeadSelfAttention } from './attention';
import { LayerNorm } from './layer-norm';
import { PositionEmbedding } from './position-embedding';
import { PaddingMask, SequencePooling } from './pooling';
import { TransformerSpec } from './spec';

type Tensor = tfl.SymbolicTensor;

/**
 * The token embedding of the network, null for numeric sequences: the
 * spec's, or for a text source (whose rows become token ids, 0 padding) one
 * of `spec.dim` dimensions; its vocabulary is resolved from the data when
 * the spec leaves it out (the largest training id + 1).
 */
export function embeddingOf(spec: TransformerSpec, info: DataInfo): { vocabulary: number; dim: number } | null {
  const e = spec.embedding ?? (info.text ? { vocabulary: null, dim: spec.dim } : null);
  if (!e) return null;
  return { vocabulary: e.vocabulary ?? Math.max(2, Math.floor(info.valueRange[1]) + 1), dim: e.dim };
}

/**
 * The network's input shape: [length] token ids with an embedding,
 * [steps, features] for numeric sequences ([steps] is read as one feature
 * per step, and an image's rows are its steps).
 *
 * @throws DataError when the samples cannot feed this network.
 */
export function transformerInputShape(spec: TransformerSpec, info: DataInfo): number[] {
  const s = info.sampleShape;
  const embedding = embeddingOf(spec, info);
  if (embedding) {
    if (s.length !== 1) throw new DataError(`family 'transformer' with an embedding needs token sequences (samples of shape [length]), got [${s.join(', ')}]`);
    const [min, max] = info.valueRange;
    const { vocabulary } = embedding;
    if (min < 0) throw new DataError(`token ids must be ≥ 0 (0 pads a sequence), got ids down to ${min}`);
    // Only a given vocabulary can be too small: one taken from the data holds its largest id.
    if (max >= vocabulary) {
      throw new DataError(`token ids range over [${min}, ${max}] but model.embedding.vocabulary is ${vocabulary}: ids must be in [0, ${vocabulary - 1}]`);
    }
    return [s[0]];
  }
  if (s.length === 1) return [s[0], 1];
  if (s.length === 2) return [s[0], s[1]];
  throw new DataError(`family 'transformer' needs sequences (samples of shape [steps] or [steps, features]), got [${s.join(', ')}]`);
}

/** Consecutive seeds for the network's initializers, from the job's seed: each weight gets its own. */
class Seeds {
  private next = 0;
  constructor(private readonly base: number) {}
  /** A fresh seed; `span` more follow it for a layer that seeds several weights. */
  take(span = 1): number {
    const seed = this.base + this.next;
    this.next += span;
    return seed;
  }
}

/**
 * Builds the encoder: the embedded tokens (or the projected numeric steps)
 * plus learned positions, `spec.layers` pre-norm encoder blocks, a final
 * layer norm, pooling, dropout, then one output unit per class.
 *
 * Pre-norm (as in GPT-2 and ViT, not the post-norm of the original paper):
 * each branch reads a layer-normed copy of the residual stream and adds its
 * result back, so the stream itself stays unnormalized until the final norm.
 * It trains stably without a learning-rate warm-up, which the minibatch
 * program does not have.
 *
 * For token input the padding mask is computed in the model ({@link PaddingMask}
 * on the input ids) and fed to every attention layer and to mean pooling, so
 * the saved model takes token ids alone.
 */
export function buildTransformer(spec: TransformerSpec, info: DataInfo, seed: number, output: 'linear' | 'softmax'): tfl.LayersModel {
  const seeds = new Seeds(seed);
  const glorot = () => tfl.initializers.glorotUniform({ seed: seeds.take() });
  const dropout = (x: Tensor, name: string): Tensor => (spec.dropout > 0 ? tfl.layers.dropout({ rate: spec.dropout, name }).apply(x) as Tensor : x);
  const dense = (x: Tensor, units: number, name: string, activation: 'relu' | 'linear' | 'softmax' = 'linear', useBias = true): Tensor =>
    tfl.layers.dense({ units, activation, name, useBias, kernelInitializer: glorot() }).apply(x) as Tensor;
  // The input's projection has no bias: one vector added at every step is what the position embedding already learns.
  const project = (x: Tensor, name: string): Tensor => dense(x, spec.dim, name, 'linear', false);
  const norm = (x: Tensor, name: string): Tensor => new LayerNorm({ name }).apply(x) as Tensor;

  const input = tfl.input({ shape: transformerInputShape(spec, info), name: 'sequence' });
  let x: Tensor;
  let mask: Tensor | null = null;
  const embedding = embeddingOf(spec, info);
  if (embedding) {
    x = tfl.layers.embedding({
      inputDim: embedding.vocabulary, outputDim: embedding.dim, name: 'embedding',
      embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: seeds.take() }),
    }).apply(input) as Tensor;
    if (embedding.dim !== spec.dim) x = project(x, 'embedding_projection');
    mask = new PaddingMask({ name: 'padding_mask' }).apply(input) as Tensor;
  } else {
    x = project(input, 'projection');
  }
  x = new PositionEmbedding({ seed: seeds.take(), name: 'position_embedding' }).apply(x) as Tensor;
  x = dropout(x, 'embedding_dropout');
  const withMask = (t: Tensor): Tensor | Tensor[] => (mask ? [t, mask] : t);

  for (let i = 0; i < spec.layers; i++) {
    const block = `block${i}`;
    const attention = new MultiHeadSelfAttention({ heads: spec.heads, dropout: spec.dropout, seed: seeds.take(4), name: `${block}_attention` });
    const attended = attention.apply(withMask(norm(x, `${block}_attention_norm`))) as Tensor;
    x = tfl.layers.add({ name: `${block}_attention_residual` }).apply([x, dropout(attended, `${block}_attention_dropout`)]) as Tensor;
    const hidden = dense(norm(x, `${block}_ff_norm`), spec.ffDim, `${block}_ff_hidden`, 'relu');
    const fed = dense(hidden, spec.dim, `${block}_ff_output`);
    x = tfl.layers.add({ name: `${block}_ff_residual` }).apply([x, dropout(fed, `${block}_ff_dropout`)]) as Tensor;
  }
  x = norm(x, 'final_norm');
  let pooled = new SequencePooling({ mode: spec.pooling, name: 'pooling' }).apply(withMask(x)) as Tensor;
  pooled = dropout(pooled, 'dropout');
  const out = dense(pooled, info.classes!.length, 'output', output);
  return tfl.model({ inputs: input, outputs: out, name: 'transformer' });
}
