import { tfleet } from '../../proto/generated/tfleet';
import { OptimizerSpec } from '../config/job-spec';
import { ArgumentError } from '../errors';

/**
 * How the parameter server turns one step's pushes into a key's new value.
 *
 * - `sum`: the value becomes the sum of the step's pushes (additive
 *   statistics: feature moments, histograms, counts).
 * - `average`: the sample-weighted mean of the pushes (state every worker
 *   updates alike, such as batch-norm moving statistics).
 * - `max`: the element-wise maximum of the pushes (ranges of a feature;
 *   a minimum is the maximum of the negated values).
 * - `sgd`, `momentum`, `adam`, `adagrad`: an optimizer step on the
 *   sample-weighted mean of the pushed gradients. On a row table
 *   ({@link RowInit}) the step is per row, on the sum of the step's pushes
 *   of that row: a row's gradient is already a sum over the samples that
 *   touched it.
 */
export type UpdateRuleSpec = { name: 'sum' } | { name: 'average' } | { name: 'max' } | OptimizerSpec | AdagradSpec;

/** AdaGrad: each element's step is `lr·g / (sqrt(G) + epsilon)`, G the running sum of its squared gradients from `initialAccumulator`. */
export interface AdagradSpec {
  name: 'adagrad';
  learningRate: number;
  initialAccumulator: number;
  epsilon: number;
}

/** How a row table's rows start, from the row's id alone. */
export type RowInit = { kind: 'zeros' } | { kind: 'normal'; mean: number; std: number; seed: number };

/** Rules a row table takes. */
export const TABLE_RULES: readonly string[] = ['sum', 'sgd', 'adagrad'];

/** Rules a float64 or int32 key takes: the exact reductions, not the optimizers. */
export const EXACT_RULES: readonly string[] = ['sum', 'max'];

const STATISTIC_RULES = ['sum', 'average', 'max'] as const;
const OPTIMIZER_RULES = ['sgd', 'momentum', 'adam', 'adagrad'] as const;

export function ruleToWire(rule: UpdateRuleSpec): tfleet.ps.IUpdateRule {
  if (rule.name === 'sum' || rule.name === 'average' || rule.name === 'max') return { name: rule.name };
  if (rule.name === 'adagrad') return { name: rule.name, learningRate: rule.learningRate, initialAccumulator: rule.initialAccumulator, epsilon: rule.epsilon };
  return { name: rule.name, learningRate: rule.learningRate, momentum: rule.momentum, beta1: rule.beta1, beta2: rule.beta2, epsilon: rule.epsilon };
}

/** @throws ArgumentError naming the rule or its bad learning rate. */
export function ruleFromWire(r: tfleet.ps.IUpdateRule | null | undefined): UpdateRuleSpec {
  const name = r?.name ?? '';
  if ((STATISTIC_RULES as readonly string[]).includes(name)) return { name: name as (typeof STATISTIC_RULES)[number] };
  if (!(OPTIMIZER_RULES as readonly string[]).includes(name)) {
    throw new ArgumentError(`update rule must be one of ${[...STATISTIC_RULES, ...OPTIMIZER_RULES].map((n) => `'${n}'`).join(', ')}, got '${name}'`);
  }
  const learningRate = r!.learningRate ?? 0;
  if (!(learningRate > 0)) throw new ArgumentError(`update rule '${name}': learning rate must be > 0, got ${learningRate}`);
  if (name === 'adagrad') {
    const initialAccumulator = r!.initialAccumulator ?? 0;
    if (!(initialAccumulator >= 0) || !Number.isFinite(initialAccumulator)) throw new ArgumentError(`update rule 'adagrad': initial accumulator must be a finite number ≥ 0, got ${initialAccumulator}`);
    return { name, learningRate, initialAccumulator, epsilon: r!.epsilon ?? 0 };
  }
  return {
    name: name as OptimizerSpec['name'], learningRate,
    momentum: r!.momentum ?? 0, beta1: r!.beta1 ?? 0, beta2: r!.beta2 ?? 0, epsilon: r!.epsilon ?? 0,
  };
}

export function rowInitToWire(init: RowInit): tfleet.ps.IRowTable {
  return init.kind === 'zeros' ? { init: 'zeros' } : { init: 'normal', mean: init.mean, std: init.std, seed: init.seed };
}

/** @throws ArgumentError naming the initializer or its bad spread. */
export function rowInitFromWire(t: tfleet.ps.IRowTable): RowInit {
  if (t.init === 'zeros') return { kind: 'zeros' };
  if (t.init !== 'normal') throw new ArgumentError(`row table init must be 'zeros' or 'normal', got '${t.init ?? ''}'`);
  const mean = t.mean ?? 0;
  const std = t.std ?? 0;
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) throw new ArgumentError(`row table init 'normal' needs a finite mean and a std ≥ 0, got ${mean} and ${std}`);
  return { kind: 'normal', mean, std, seed: t.seed ?? 0 };
}
