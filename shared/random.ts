/**
 * Seeded pseudo-random numbers (mulberry32): the same seed gives the same
 * holdout split and the same shuffles on every worker and every run.
 *
 * @example
 * const rand = seededRandom(7); rand(); // in [0, 1)
 */
export function seededRandom(seed: number): () => number {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[] | Uint32Array, rand: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
}

/** Mixes several integers into one seed, so per-epoch and per-rank streams differ. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
  }
  return h >>> 0;
}

/**
 * `n` normal draws (Box–Muller) from a generator seeded by `seed`: a row's
 * first value depends on its id alone. Workers use it too, for the rows
 * they keep (a recommender's user factors), so the model does not depend
 * on how the rows were sharded (the parameter server's row tables start
 * their rows this way).
 */
export function fillNormal(out: Float32Array | Float64Array, at: number, n: number, mean: number, std: number, seed: number): void {
  const rand = seededRandom(seed);
  for (let j = 0; j < n; j += 2) {
    const u1 = 1 - rand();
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[at + j] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (j + 1 < n) out[at + j + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
}
