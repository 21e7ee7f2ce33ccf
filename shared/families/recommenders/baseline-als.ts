import { AbortedError } from '../../errors';
import { MetricSums, emptySums } from '../../metric-sums';
import { PsHandle } from '../../ps/handle';
import { Ratings, countsOf } from './ratings';
import { BaselineOptions } from './spec';
import { reduceLarge } from '../../ps/collectives';

/** User and item biases, whole on every rank. */
export interface Biases {
  userBias: Float32Array;
  itemBias: Float32Array;
}

/**
 * Surprise's baseline estimates by ALS (`baseline_als`): each epoch sets
 * every item's bias, then every user's, to its ratings' mean deviation from
 * μ plus the other side's bias, shrunk by `regItem` / `regUser`. Each half
 * step sums the deviations and counts across ranks, so every rank ends with
 * all the biases.
 *
 * @param onEpoch called after each epoch with the training sums of μ + b_u + b_i on this rank's ratings.
 */
export async function baselineAls(
  ps: PsHandle, prefix: string, local: Ratings, users: number, items: number, mu: number, options: BaselineOptions,
  signal: AbortSignal, onEpoch?: (epoch: number, sums: MetricSums) => Promise<void>,
): Promise<Biases> {
  const counts = await reduceLarge(ps, `${prefix}/counts`, concat(countsOf(local, 'user', users), countsOf(local, 'item', items)), { name: 'sum' });
  const userCount = counts.subarray(0, users);
  const itemCount = counts.subarray(users);
  const bu = new Float64Array(users);
  const bi = new Float64Array(items);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    if (signal.aborted) throw new AbortedError('the job was cancelled');
    const devItems = new Float64Array(items);
    for (let r = 0; r < local.n; r++) devItems[local.items[r]] += local.values[r] - mu - bu[local.users[r]];
    const itemSums = await reduceLarge(ps, `${prefix}/e${epoch}/items`, devItems, { name: 'sum' });
    for (let i = 0; i < items; i++) bi[i] = itemSums[i] / (options.regItem + itemCount[i]);
    const devUsers = new Float64Array(users);
    for (let r = 0; r < local.n; r++) devUsers[local.users[r]] += local.values[r] - mu - bi[local.items[r]];
    const userSums = await reduceLarge(ps, `${prefix}/e${epoch}/users`, devUsers, { name: 'sum' });
    for (let u = 0; u < users; u++) bu[u] = userSums[u] / (options.regUser + userCount[u]);
    if (onEpoch) await onEpoch(epoch, trainingSums(local, mu, bu, bi));
  }
  return { userBias: Float32Array.from(bu), itemBias: Float32Array.from(bi) };
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Squared and absolute errors of μ + b_u + b_i on ratings (unclipped: a training loss). */
function trainingSums(local: Ratings, mu: number, bu: Float64Array, bi: Float64Array): MetricSums {
  const sums = emptySums();
  for (let r = 0; r < local.n; r++) {
    const err = local.values[r] - (mu + bu[local.users[r]] + bi[local.items[r]]);
    sums.count++;
    sums.lossSum += err * err;
    sums.squaredError += err * err;
    sums.absoluteError += Math.abs(err);
  }
  return sums;
}
