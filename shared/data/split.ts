import { mixSeed, seededRandom, shuffleInPlace } from '../random';

/** Row indices of a holdout split, each list ascending (file order). */
export interface HoldoutIndices {
  train: Uint32Array;
  test: Uint32Array;
}

/**
 * Holds out a seeded fraction of rows. With `strata` (class ids per row),
 * each class gives the same fraction (rounded), so the test set keeps the
 * class balance; every worker computes the same split from the same seed.
 *
 * @example
 * holdout(178, 0.2, 7, labels) // ~36 test rows, 80/20 in every class
 */
export function holdout(rows: number, fraction: number, seed: number, strata?: ArrayLike<number>): HoldoutIndices {
  const groups = new Map<number, number[]>();
  for (let r = 0; r < rows; r++) {
    const g = strata ? strata[r] : 0;
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(r);
  }
  const isTest = new Uint8Array(rows);
  const rand = seededRandom(mixSeed(seed, 0x5e11));
  for (const g of [...groups.keys()].sort((a, b) => a - b)) {
    const list = groups.get(g)!;
    shuffleInPlace(list, rand);
    const take = Math.round(list.length * fraction);
    for (let i = 0; i < take; i++) isTest[list[i]] = 1;
  }
  const train: number[] = [];
  const test: number[] = [];
  for (let r = 0; r < rows; r++) (isTest[r] ? test : train).push(r);
  return { train: Uint32Array.from(train), test: Uint32Array.from(test) };
}
