import { softmaxClassifierReplica } from '../layers/replica';
import { gradientFamily } from '../minibatch/gradient-family';
import { buildTransformer, transformerInputShape } from './model';
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
