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
  /** Recommenders' top-N sums, one term per user ranked (see {@link RankingSums}). */
  ranking?: RankingSums;
}

/**
 * A recommender's top-N evaluation, additive over users: each user ranked
 * adds its precision@k and recall@k; rows whose user or item training never
 * saw are counted.
 */
export interface RankingSums {
  k: number;
  users: number;
  precision: number;
  recall: number;
  unknownUsers: number;
  unknownItems: number;
}

export function emptySums(): MetricSums {
  return { count: 0, lossSum: 0, correct: 0, squaredError: 0, absoluteError: 0 };
}

export function addSums(a: MetricSums, b: MetricSums): MetricSums {
  const out: MetricSums = {
    count: a.count + b.count,
    lossSum: a.lossSum + b.lossSum,
    correct: a.correct + b.correct,
    squaredError: a.squaredError + b.squaredError,
    absoluteError: a.absoluteError + b.absoluteError,
  };
  if (a.ranking || b.ranking) {
    const x = a.ranking ?? { ...b.ranking!, users: 0, precision: 0, recall: 0, unknownUsers: 0, unknownItems: 0 };
    const y = b.ranking ?? { ...x, users: 0, precision: 0, recall: 0, unknownUsers: 0, unknownItems: 0 };
    out.ranking = {
      k: x.k, users: x.users + y.users, precision: x.precision + y.precision, recall: x.recall + y.recall,
      unknownUsers: x.unknownUsers + y.unknownUsers, unknownItems: x.unknownItems + y.unknownItems,
    };
  }
  return out;
}

/**
 * Final metrics of a split: loss always; accuracy or rmse/mae by task; a
 * recommender's `precisionAtK`, `recallAtK` (mean over the users ranked),
 * `k`, `unknownUsers` and `unknownItems`.
 */
export function metricsFromSums(s: MetricSums, task: TaskKind): Record<string, number> {
  const n = Math.max(1, s.count);
  const out: Record<string, number> = { loss: s.lossSum / n, count: s.count };
  if (task === 'classifier') out.accuracy = s.correct / n;
  else {
    out.rmse = Math.sqrt(s.squaredError / n);
    out.mae = s.absoluteError / n;
  }
  if (s.ranking) {
    const users = Math.max(1, s.ranking.users);
    out.precisionAtK = s.ranking.precision / users;
    out.recallAtK = s.ranking.recall / users;
    out.k = s.ranking.k;
    out.unknownUsers = s.ranking.unknownUsers;
    out.unknownItems = s.ranking.unknownItems;
  }
  return out;
}
