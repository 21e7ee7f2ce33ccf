import { PsHandle } from '../../ps/handle';
import { getLarge, putLarge, reduceLarge } from '../../ps/collectives';
import { TextSettings } from '../../config/job-spec';
import { tokenize } from '../../data/tokenize';

/** A vocabulary every rank built alike: tokens by id, and the documents each occurs in. */
export interface Vocabulary {
  tokens: string[];
  /** Documents (rows) of the training set holding each token, over every rank. */
  documentFrequency: Float64Array;
  /** Training documents over every rank. */
  documents: number;
}

/** Bytes a float64 carries exactly when a string's UTF-8 travels as numbers. */
const BYTES_PER_VALUE = 6;

/**
 * Builds the job's vocabulary from every rank's documents. Each rank
 * tokenizes its shard; the union of the ranks' distinct tokens, sorted,
 * gives every token one index everywhere; then each rank counts its
 * tokens' occurrences and documents on that index, the parameter server
 * sums the counts (an additive statistic, like feature moments), and every
 * rank keeps the same tokens: at least `minCount` occurrences, the
 * `maxVocabulary` most frequent, ties by token. So the vocabulary does not
 * depend on the number of workers.
 *
 * @example
 * const vocab = await buildVocabulary(ps, 'text/vocab', rank, worldSize, shard.texts, settings);
 */
export async function buildVocabulary(ps: PsHandle, prefix: string, rank: number, worldSize: number, texts: readonly string[], s: TextSettings): Promise<Vocabulary> {
  const docs = texts.map((t) => tokenize(t, s));
  const mine = [...new Set(docs.flat())].sort();
  await putLarge(ps, `${prefix}/r${rank}`, encodeStrings(mine));
  const union = new Set<string>();
  const keys: string[] = [];
  for (let r = 0; r < worldSize; r++) {
    const got = await getLarge(ps, `${prefix}/r${r}`);
    for (const t of decodeStrings(got.data)) union.add(t);
    keys.push(...got.keys);
  }
  await ps.release(keys);
  const all = [...union].sort();
  const index = new Map(all.map((t, i) => [t, i]));
  // Occurrences, then documents, then this rank's document count (last).
  const counts = new Float64Array(2 * all.length + 1);
  for (const tokens of docs) {
    const seen = new Set<number>();
    for (const t of tokens) {
      const i = index.get(t)!;
      counts[i]++;
      seen.add(i);
    }
    for (const i of seen) counts[all.length + i]++;
  }
  counts[2 * all.length] = docs.length;
  const total = await reduceLarge(ps, `${prefix}/counts`, counts, { name: 'sum' });
  const kept = all.map((_, i) => i).filter((i) => total[i] >= s.minCount);
  kept.sort((a, b) => total[b] - total[a] || (all[a] < all[b] ? -1 : 1));
  const chosen = kept.slice(0, s.maxVocabulary).sort((a, b) => (all[a] < all[b] ? -1 : 1));
  return {
    tokens: chosen.map((i) => all[i]),
    documentFrequency: Float64Array.from(chosen, (i) => total[all.length + i]),
    documents: total[2 * all.length],
  };
}

/** Strings joined by newlines as UTF-8, packed {@link BYTES_PER_VALUE} bytes to a float64; the first value is the byte length. */
export function encodeStrings(strings: readonly string[]): Float64Array {
  const bytes = Buffer.from(strings.join('\n'), 'utf8');
  const out = new Float64Array(1 + Math.ceil(bytes.length / BYTES_PER_VALUE));
  out[0] = bytes.length;
  for (let i = 0; i < bytes.length; i++) out[1 + Math.floor(i / BYTES_PER_VALUE)] += bytes[i] * 2 ** (8 * (i % BYTES_PER_VALUE));
  return out;
}

export function decodeStrings(values: Float64Array): string[] {
  const length = values[0];
  if (length === 0) return [];
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(values[1 + Math.floor(i / BYTES_PER_VALUE)] / 2 ** (8 * (i % BYTES_PER_VALUE))) % 256;
  return bytes.toString('utf8').split('\n');
}
