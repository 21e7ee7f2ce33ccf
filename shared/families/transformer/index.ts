import { softmaxClassifierReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { buildTransformer, embeddingOf, transformerInputShape } from './model';
import { DataInfo } from '../types';
import { TransformerSpec, parseTransformerSpec } from './spec';

// Loading this file registers the network's layer classes with tfjs
// serialization (each of attention.ts, layer-norm.ts, position-embedding.ts
// and pooling.ts registers its own), which tf.loadLayersModel needs to read a
// saved transformer. The registry imports this file, and `tfleet predict`
// reaches the predictor through the registry, so no other import is needed.
export { MultiHeadSelfAttention } from './attention';
export { LayerNorm } from './layer-norm';
export { PositionEmbedding } from './position-embedding';
export { PaddingMask, SequencePooling } from './pooling';

/**
 * Weights of the encoder: the embedding (or the input projection), the
 * position embedding, per block two layer norms, attention's four
 * projections and the feed-forward pair, then the output layer.
 */
function transformerParameterCount(spec: TransformerSpec, info: DataInfo): number {
  const { dim, ffDim } = spec;
  const embedding = embeddingOf(spec, info);
  const steps = info.sampleShape[0] ?? 1;
  let n = 0;
  if (embedding) n += embedding.vocabulary * embedding.dim + (embedding.dim !== dim ? embedding.dim * dim : 0);
  else n += (info.sampleShape.length === 2 ? info.sampleShape[1] : 1) * dim;
  n += steps * dim;
  n += spec.layers * (2 * 2 * dim + 4 * (dim * dim + dim) + (dim * ffDim + ffDim) + (ffDim * dim + dim));
  return n + 2 * dim + (dim + 1) * info.classes!.length;
}

/** Self-attention sequence classifier: pre-norm encoder blocks over numeric sequences or embedded tokens (id 0 pads), raw text included. */
export const transformerFamily = gradientFamily<TransformerSpec>({
  name: 'transformer',
  taskOf: () => 'classifier',
  parseSpec: parseTransformerSpec,
  // A text source's rows become token ids only in its program (the vocabulary is built across ranks): they are checked there.
  checkData: (spec, info) => void (info.text ? undefined : transformerInputShape(spec, info)),
  readsRawValues: (spec) => spec.embedding !== null,
  // A text job's vocabulary is known only once the workers built it.
  parameterCount: (spec, info) => (info.text ? 0 : transformerParameterCount(spec, info)),
  text: { representation: 'sequence' },
  createReplica: (spec, info, seed) => softmaxClassifierReplica('transformer', info, spec.l2, (output) => buildTransformer(spec, info, seed, output)),
});
