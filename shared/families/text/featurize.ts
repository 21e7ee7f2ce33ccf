import { TextSettings } from '../../config/job-spec';
import { Table } from '../../data/table';
import { hashToken, tokenize } from '../../data/tokenize';
import { Vocabulary } from './vocabulary';

/** Sequence ids: 0 pads, 1 is a word outside the vocabulary, token t is t + 2. */
export const PAD_ID = 0;
export const UNKNOWN_ID = 1;
const FIRST_TOKEN_ID = 2;

/**
 * How a job's texts become numbers: a vocabulary (or the hashing trick's
 * buckets) and the idf weights, the same on every rank and saved with the model.
 */
export interface TextFeatures {
  settings: TextSettings;
  /** Null with hashing. */
  tokens: string[] | null;
  /** Feature count: vocabulary size or hashing buckets. */
  size: number;
  /** Smoothed idf per feature, as scikit-learn's TfidfVectorizer: ln((1 + n) / (1 + df)) + 1. */
  idf: Float32Array;
}

export function textFeatures(settings: TextSettings, vocab: Vocabulary | null, hashedDf?: { df: Float64Array; documents: number }): TextFeatures {
  const size = vocab ? vocab.tokens.length : settings.hashing!;
  const df = vocab ? vocab.documentFrequency : hashedDf!.df;
  const n = vocab ? vocab.documents : hashedDf!.documents;
  const idf = Float32Array.from({ length: size }, (_, i) => Math.log((1 + n) / (1 + df[i])) + 1);
  return { settings, tokens: vocab ? vocab.tokens : null, size, idf };
}

/** Maps a token to its feature id, or -1 outside the vocabulary. */
export function featureIndex(f: TextFeatures): (token: string) => number {
  if (f.tokens === null) return (t) => hashToken(t, f.size);
  const index = new Map(f.tokens.map((t, i) => [t, i]));
  return (t) => index.get(t) ?? -1;
}

/**
 * Bag-of-words rows: row r holds its distinct feature ids, ascending, then
 * their weights (count, binary, or tf-idf normalized to unit length, as
 * TfidfVectorizer), padded to the widest row of the table with id -1.
 * `cols` is twice that width; numeric columns beside the text are not
 * used by bag models.
 */
export function bagRows(t: Table, f: TextFeatures): Table {
  const id = featureIndex(f);
  const rows: { ids: number[]; weights: number[] }[] = [];
  let width = 1;
  for (const text of t.texts ?? []) {
    const counts = new Map<number, number>();
    for (const token of tokenize(text, f.settings)) {
      const i = id(token);
      if (i >= 0) counts.set(i, (counts.get(i) ?? 0) + 1);
    }
    const ids = [...counts.keys()].sort((a, b) => a - b);
    let weights = ids.map((i) => counts.get(i)!);
    if (f.settings.weighting === 'binary') weights = weights.map(() => 1);
    else if (f.settings.weighting === 'tfidf') {
      weights = ids.map((i, j) => weights[j] * f.idf[i]);
      const norm = Math.sqrt(weights.reduce((s, w) => s + w * w, 0));
      if (norm > 0) weights = weights.map((w) => w / norm);
    }
    rows.push({ ids, weights });
    width = Math.max(width, ids.length);
  }
  const x = new Float32Array(rows.length * 2 * width).fill(-1);
  rows.forEach(({ ids, weights }, r) => {
    const at = r * 2 * width;
    ids.forEach((i, j) => {
      x[at + j] = i;
      x[at + width + j] = weights[j];
    });
    for (let j = ids.length; j < width; j++) x[at + width + j] = 0;
  });
  return { ...t, cols: 2 * width, sampleShape: [2, width], featureNames: [], x, texts: undefined };
}

/**
 * Token-id sequences for sequence models: the words (unigrams) in order,
 * cut or padded at the end to `settings.length` (ids as {@link PAD_ID},
 * {@link UNKNOWN_ID}, then vocabulary index + 2).
 */
export function sequenceRows(t: Table, f: TextFeatures): Table {
  const id = featureIndex(f);
  const L = f.settings.length;
  const x = new Float32Array((t.texts?.length ?? 0) * L);
  (t.texts ?? []).forEach((text, r) => {
    const words = tokenize(text, { ...f.settings, ngrams: [1, 1] });
    for (let j = 0; j < Math.min(L, words.length); j++) {
      const i = id(words[j]);
      x[r * L + j] = i < 0 ? UNKNOWN_ID : i + FIRST_TOKEN_ID;
    }
  });
  return { ...t, cols: L, sampleShape: [L], featureNames: [], x, texts: undefined };
}

/** Ids a sequence model's embedding needs: pad, unknown and every feature. */
export function sequenceVocabulary(f: TextFeatures): number {
  return f.size + FIRST_TOKEN_ID;
}
