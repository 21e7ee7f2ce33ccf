import { SpecError } from '../../errors';
import { SpecFields } from '../spec-fields';
import { PoolingMode } from './pooling';

/** A parsed `model` section of family 'transformer', every default filled in. */
export interface TransformerSpec {
  family: 'transformer';
  /** Encoder blocks. */
  layers: number;
  /** Attention heads per block; they divide `dim`. */
  heads: number;
  /** Width of every step's vector through the blocks. */
  dim: number;
  /** Width of the feed-forward layer inside each block. */
  ffDim: number;
  /** Dropout rate on the attention weights, each block's two branches, the embedded input and the pooled vector. */
  dropout: number;
  /** How the steps' vectors become one per sample: their mean (pad positions left out) or the first step's. */
  pooling: PoolingMode;
  /**
   * Token sequences: ids in [0, vocabulary) embedded in `dim` dimensions,
   * id 0 being padding. `vocabulary` null: the largest training id + 1.
   * Null for numeric sequences.
   */
  embedding: { vocabulary: number | null; dim: number } | null;
  l2: number;
}

const FIELDS = ['family', 'layers', 'heads', 'dim', 'ffDim', 'dropout', 'pooling', 'embedding', 'l2'];

/** @throws SpecError naming the field, e.g. 'model.heads'. */
export function parseTransformerSpec(model: Record<string, unknown>): TransformerSpec {
  const f = new SpecFields(model, 'model');
  f.only(FIELDS, "family 'transformer'");
  const dim = f.int('dim', { min: 1, max: 4096, default: 64 });
  const heads = f.int('heads', { min: 1, max: 256, default: 4 });
  if (dim % heads !== 0) throw new SpecError('model.heads', `must divide model.dim (${dim}) into heads of equal size, got ${heads}`);
  const e = f.object('embedding');
  e?.only(['vocabulary', 'dim'], 'an embedding');
  return {
    family: 'transformer',
    layers: f.int('layers', { min: 1, max: 64, default: 2 }),
    heads,
    dim,
    ffDim: f.int('ffDim', { min: 1, max: 65536, default: 128 }),
    dropout: f.fraction('dropout', 0.1),
    pooling: f.oneOf('pooling', ['mean', 'first'], 'mean'),
    embedding: e ? {
      vocabulary: e.has('vocabulary') ? e.int('vocabulary', { min: 2, max: 10_000_000 }) : null,
      dim: e.int('dim', { min: 1, max: 4096, default: dim }),
    } : null,
    l2: (model.l2 as number | undefined) ?? 0,
  };
}
