/** A contiguous range of rows [begin, end). */
export interface RowRange {
  begin: number;
  end: number;
}

/**
 * Splits `rows` into `parts` contiguous ranges whose sizes differ by at most
 * one row (the first `rows % parts` ranges get the extra row).
 *
 * @example
 * planShards(10, 3) // [{0,4}, {4,7}, {7,10}]
 */
export function planShards(rows: number, parts: number): RowRange[] {
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`parts must be an integer ≥ 1, got ${parts}`);
  const base = Math.floor(rows / parts);
  const extra = rows % parts;
  const out: RowRange[] = [];
  let begin = 0;
  for (let i = 0; i < parts; i++) {
    const end = begin + base + (i < extra ? 1 : 0);
    out.push({ begin, end });
    begin = end;
  }
  return out;
}

/** Steps per epoch so that the largest shard is covered: every rank runs the same count. */
export function stepsPerEpoch(shards: readonly RowRange[], batchSize: number): number {
  const largest = Math.max(...shards.map((s) => s.end - s.begin));
  return Math.max(1, Math.ceil(largest / batchSize));
}

/**
 * Splits rows sorted by a group value (a user's ratings) into `parts`
 * contiguous ranges cut only between groups, each cut at the group start
 * nearest an even split, so no group spans two ranks.
 *
 * @example
 * planGroupedShards([0, 0, 0, 1, 2, 2], 2) // [{0,3}, {3,6}]
 */
export function planGroupedShards(groupOfRow: ArrayLike<number>, parts: number): RowRange[] {
  const even = planShards(groupOfRow.length, parts);
  const cuts = [0];
  for (let k = 1; k < parts; k++) {
    let at = Math.max(even[k].begin, cuts[k - 1]);
    // The start of the group holding row `at`, or the next one, whichever is nearer.
    let down = at;
    while (down > cuts[k - 1] && groupOfRow[down - 1] === groupOfRow[at]) down--;
    let up = at;
    while (up < groupOfRow.length && groupOfRow[up] === groupOfRow[at]) up++;
    // Going down to the previous cut would leave the previous rank empty: go up then.
    if (at < groupOfRow.length && down !== at) at = at - down <= up - at && down > cuts[k - 1] ? down : up;
    cuts.push(at);
  }
  cuts.push(groupOfRow.length);
  return cuts.slice(0, parts).map((begin, k) => ({ begin, end: cuts[k + 1] }));
}

/**
 * Cuts rows sorted by the same group value as `shards` (a test set's
 * users) where those shards' groups begin, so each rank gets the rows of
 * its own groups; rows of groups past every shard's (users training never
 * saw) go to the last rank.
 */
export function alignShards(shards: readonly RowRange[], groupOfRow: ArrayLike<number>, otherGroupOfRow: ArrayLike<number>): RowRange[] {
  const cuts = [0];
  for (let k = 1; k < shards.length; k++) {
    const begin = shards[k].begin;
    if (begin >= groupOfRow.length) { cuts.push(otherGroupOfRow.length); continue; }
    const g = groupOfRow[begin];
    let lo = cuts[k - 1];
    let hi = otherGroupOfRow.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (otherGroupOfRow[mid] < g) lo = mid + 1;
      else hi = mid;
    }
    cuts.push(lo);
  }
  cuts.push(otherGroupOfRow.length);
  return shards.map((_, k) => ({ begin: cuts[k], end: cuts[k + 1] }));
}
