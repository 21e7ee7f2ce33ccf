import { SpecError } from '../../errors';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu';

/** Hyperparameters of the dense tfjs families (the schema checked the types). */
export interface DenseSpec {
  family: 'linear' | 'logistic' | 'softmax' | 'mlp';
  hidden: number[];
  activation: Activation;
  dropout: number;
  l2: number;
}

const COMMON = ['family', 'l2'];
const MLP_ONLY = ['hidden', 'activation', 'dropout'];

/** @throws SpecError for a field the family does not take, e.g. 'model.hidden' on 'linear'. */
export function parseDenseSpec(model: Record<string, unknown>): DenseSpec {
  const family = model.family as DenseSpec['family'];
  const allowed = family === 'mlp' ? [...COMMON, ...MLP_ONLY] : COMMON;
  for (const key of Object.keys(model)) {
    if (!allowed.includes(key)) {
      throw new SpecError(`model.${key}`, `is not a field of family '${family}' (allowed: ${allowed.join(', ')})`);
    }
  }
  return {
    family,
    hidden: family === 'mlp' ? ((model.hidden as number[] | undefined) ?? [64]) : [],
    activation: (model.activation as Activation | undefined) ?? 'relu',
    dropout: (model.dropout as number | undefined) ?? 0,
    l2: (model.l2 as number | undefined) ?? 0,
  };
}
