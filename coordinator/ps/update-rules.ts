import { UpdateRuleSpec } from '../../shared/families/types';

/**
 * A server-side update: turns the reduced statistic of one step into the
 * key's new value, in place. Optimizers receive the sample-weighted mean
 * gradient; 'sum' receives the plain sum, 'average' the weighted mean.
 */
export interface UpdateRule {
  readonly reduce: 'mean' | 'sum';
  apply(value: Float32Array, reduced: Float64Array): void;
}

/** Builds the rule's state for one key of `size` elements. Matches tfjs's optimizers. */
export function createUpdateRule(spec: UpdateRuleSpec, size: number): UpdateRule {
  switch (spec.name) {
    case 'sum':
      return { reduce: 'sum', apply: (value, sum) => { for (let i = 0; i < size; i++) value[i] = sum[i]; } };
    case 'average':
      return { reduce: 'mean', apply: (value, mean) => { for (let i = 0; i < size; i++) value[i] = mean[i]; } };
    case 'sgd': {
      const lr = spec.learningRate;
      return { reduce: 'mean', apply: (value, g) => { for (let i = 0; i < size; i++) value[i] -= lr * g[i]; } };
    }
    case 'momentum': {
      const { learningRate: lr, momentum } = spec;
      const accum = new Float64Array(size);
      return {
        reduce: 'mean',
        apply: (value, g) => {
          for (let i = 0; i < size; i++) {
            accum[i] = momentum * accum[i] + g[i];
            value[i] -= lr * accum[i];
          }
        },
      };
    }
    case 'adam': {
      const { learningRate: lr, beta1, beta2, epsilon } = spec;
      const m = new Float64Array(size);
      const v = new Float64Array(size);
      let t = 0;
      return {
        reduce: 'mean',
        apply: (value, g) => {
          t++;
          const c1 = 1 - Math.pow(beta1, t);
          const c2 = 1 - Math.pow(beta2, t);
          for (let i = 0; i < size; i++) {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            value[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + epsilon);
          }
        },
      };
    }
  }
}
