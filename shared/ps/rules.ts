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
 * - `sgd`, `momentum`, `adam`: an optimizer step on the sample-weighted
 *   mean of the pushed gradients.
 */
export type UpdateRuleSpec = { name: 'sum' } | { name: 'average' } | { name: 'max' } | OptimizerSpec;

/** Rules a float64 or int32 key takes: the exact reductions, not the optimizers. */
export const EXACT_RULES: readonly string[] = ['sum', 'max'];

const STATISTIC_RULES = ['sum', 'average', 'max'] as const;
const OPTIMIZER_RULES = ['sgd', 'momentum', 'adam'] as const;

export function ruleToWire(rule: UpdateRuleSpec): tfleet.ps.IUpdateRule {
  if (rule.name === 'sum' || rule.name === 'average' || rule.name === 'max') return { name: rule.name };
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
  return {
    name: name as OptimizerSpec['name'], learningRate,
    momentum: r!.momentum ?? 0, beta1: r!.beta1 ?? 0, beta2: r!.beta2 ?? 0, epsilon: r!.epsilon ?? 0,
  };
}
