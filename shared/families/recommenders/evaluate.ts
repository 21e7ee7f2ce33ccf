import { Table } from '../../data/table';
import { MetricSums, emptySums } from '../../metric-sums';
import { Recommender } from './model';
import { Csr } from './ratings';
import { RankingSpec } from './spec';

/** Rows between two yields to the event loop while evaluating. */
const ROWS_PER_SLICE = 50_000;

/**
 * Additive sums of a recommender on a ratings table: squared and absolute
 * errors, unknown users and items, and — when the rows are grouped by user,
 * as test rows are — each user's precision@k and recall@k over its rated
 * items as Surprise's FAQ computes them: the user's items ranked by
 * estimate, the top k "recommended" when their estimate is at least
 * `relevantRating`, "relevant" when their true rating is.
 */
export async function evaluateRatings(model: Recommender, table: Table, ranking: RankingSpec): Promise<MetricSums> {
  const sums = emptySums();
  const est = new Float32Array(table.rows);
  let unknownUsers = 0;
  let unknownItems = 0;
  let grouped = true;
  for (let r = 0; r < table.rows; r++) {
    if (r > 0 && r % ROWS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
    const u = table.x[2 * r];
    const i = table.x[2 * r + 1];
    if (u >= model.users) unknownUsers++;
    if (i >= model.items) unknownItems++;
    if (r > 0 && u < table.x[2 * (r - 1)]) grouped = false;
    const e = model.estimate(u, i);
    est[r] = e;
    const err = table.y[r] - e;
    sums.count++;
    sums.lossSum += err * err;
    sums.squaredError += err * err;
    sums.absoluteError += Math.abs(err);
  }
  const ranked = grouped ? rankUsers(table, est, ranking) : { users: 0, precision: 0, recall: 0 };
  sums.ranking = { k: ranking.topK, ...ranked, unknownUsers, unknownItems };
  return sums;
}

/** Precision and recall sums over the runs of rows of one user. */
function rankUsers(table: Table, est: Float32Array, { topK, relevantRating }: RankingSpec): { users: number; precision: number; recall: number } {
  let users = 0;
  let precision = 0;
  let recall = 0;
  for (let begin = 0; begin < table.rows;) {
    let end = begin + 1;
    while (end < table.rows && table.x[2 * end] === table.x[2 * begin]) end++;
    const rows = Array.from({ length: end - begin }, (_, j) => begin + j).sort((a, b) => est[b] - est[a] || a - b);
    let relevant = 0;
    for (const r of rows) if (table.y[r] >= relevantRating) relevant++;
    let recommended = 0;
    let hits = 0;
    for (const r of rows.slice(0, topK)) {
      if (est[r] < relevantRating) continue;
      recommended++;
      if (table.y[r] >= relevantRating) hits++;
    }
    users++;
    precision += recommended > 0 ? hits / recommended : 0;
    recall += relevant > 0 ? hits / relevant : 0;
    begin = end;
  }
  return { users, precision, recall };
}

/** One recommended item. */
export interface Scored {
  item: number;
  score: number;
}

/**
 * The `n` items a known user has not rated, best estimate first (ties by
 * item index); for a user training never saw, the `n` most rated items
 * (ties by mean rating), with `popular` set.
 */
export function topItems(model: Recommender, byUser: Csr, u: number, n: number): { items: Scored[]; popular: boolean } {
  if (u >= model.users) return { items: popularItems(model, byUser, n), popular: true };
  const rated = new Uint8Array(model.items);
  for (let at = byUser.offsets[u]; at < byUser.offsets[u + 1]; at++) rated[byUser.others[at]] = 1;
  const scored: Scored[] = [];
  for (let i = 0; i < model.items; i++) if (!rated[i]) scored.push({ item: i, score: model.estimate(u, i) });
  scored.sort((a, b) => b.score - a.score || a.item - b.item);
  return { items: scored.slice(0, n), popular: false };
}

/** The most rated items (their rating count as the score), ties by mean rating then index. */
function popularItems(model: Recommender, byUser: Csr, n: number): Scored[] {
  const count = new Float64Array(model.items);
  const sum = new Float64Array(model.items);
  for (let at = 0; at < byUser.others.length; at++) {
    count[byUser.others[at]]++;
    sum[byUser.others[at]] += byUser.values[at];
  }
  const mean = (i: number) => (count[i] > 0 ? sum[i] / count[i] : 0);
  return Array.from({ length: model.items }, (_, i) => i)
    .sort((a, b) => count[b] - count[a] || mean(b) - mean(a) || a - b)
    .slice(0, n)
    .map((item) => ({ item, score: count[item] }));
}
