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
