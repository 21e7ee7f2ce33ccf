import { TaskKind } from './data/dataset';

/**
 * Additive evaluation sums of one split on one rank; the coordinator adds
 * them across ranks and turns the total into metrics. Every family's
 * program evaluates into this shape, so the control plane needs no family
 * code.
 */
export interface MetricSums {
  count: number;
  lossSum: number;
  correct: number;
  squaredError: number;
  absoluteError: number;
}

export function emptySums(): MetricSums {
  return { count: 0, lossSum: 0, correct: 0, squaredError: 0, absoluteError: 0 };
}

export function addSums(a: MetricSums, b: MetricSums): MetricSums {
  return {
    count: a.count + b.count,
    lossSum: a.lossSum + b.lossSum,
    correct: a.correct + b.correct,
    squaredError: a.squaredError + b.squaredError,
    absoluteError: a.absoluteError + b.absoluteError,
  };
}

/** Final metrics of a split: loss always; accuracy or rmse/mae by task. */
export function metricsFromSums(s: MetricSums, task: TaskKind): Record<string, number> {
  const n = Math.max(1, s.count);
  const out: Record<string, number> = { loss: s.lossSum / n, count: s.count };
  if (task === 'classifier') out.accuracy = s.correct / n;
  else {
    out.rmse = Math.sqrt(s.squaredError / n);
    out.mae = s.absoluteError / n;
  }
  return out;
}
