import { softmaxClassifierReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { buildTransformer, transformerInputShape } from './model';
import { TransformerSpec, parseTransformerSpec } from './spec';

// Importing the family registers its layer classes with tfjs serialization
// (attention.ts, layer-norm.ts, position-embedding.ts, pooling.ts do so
// when loaded), which
// tf.loadLayersModel needs to read a saved transformer: the registry imports
// this file, and the predictor is reached through the registry.
export { MultiHeadSelfAttention } from './attention';
export { LayerNorm } from './layer-norm';
export { PositionEmbedding } from './position-embedding';
export { PaddingMask, SequencePooling } from './pooling';

/** Self-attention sequence classifier: pre-norm encoder blocks over numeric sequences or embedded tokens (id 0 pads), raw text included. */
export const transformerFamily = gradientFamily<TransformerSpec>({
  name: 'transformer',
  taskOf: () => 'classifier',
  parseSpec: parseTransformerSpec,
  // A text source's rows become token ids only in its program (the vocabulary is built across ranks): they are checked there.
  checkData: (spec, info) => void (info.text ? undefined : transformerInputShape(spec, info)),
  readsRawValues: (spec) => spec.embedding !== null,
  text: { representation: 'sequence' },
  createReplica: (spec, info, seed) => softmaxClassifierReplica('transformer', info, spec.l2, (output) => buildTransformer(spec, info, seed, output)),
});
