import { describe, expect, it } from 'vitest';
import { DEFAULT_TEXT_SETTINGS, TextSettings } from '../../../shared/config/job-spec';
import { ENGLISH_STOP_WORDS, hashToken, tokenize } from '../../../shared/data/tokenize';
import { ArgumentError } from '../../../shared/errors';

const settings = (extra: Partial<TextSettings> = {}): TextSettings => ({ ...DEFAULT_TEXT_SETTINGS, ngrams: [1, 1], ...extra });

describe('tokenize', () => {
  it('lower-cases and splits on anything but letters, digits and apostrophes', () => {
    expect(tokenize('The food wasn\'t GOOD... 10/10, 5-stars!', settings())).toEqual(['the', 'food', 'wasn\'t', 'good', '10', '10', '5', 'stars']);
    expect(tokenize('The food', settings({ lowercase: false }))).toEqual(['The', 'food']);
  });

  it('reads words in any script, and trims apostrophes at word ends', () => {
    expect(tokenize('Crème brûlée — 美味しい! Ολα καλά', settings())).toEqual(['crème', 'brûlée', '美味しい', 'ολα', 'καλά']);
    expect(tokenize('\'quoted\' the dogs\' bowls \'\'', settings())).toEqual(['quoted', 'the', 'dogs', 'bowls']);
  });

  it('forms unigrams then bigrams, as CountVectorizer with ngram_range (1, 2)', () => {
    expect(tokenize('Not tasty at all', settings({ ngrams: [1, 2] }))).toEqual(['not', 'tasty', 'at', 'all', 'not tasty', 'tasty at', 'at all']);
    expect(tokenize('a b c d', settings({ ngrams: [2, 3] }))).toEqual(['a b', 'b c', 'c d', 'a b c', 'b c d']);
    expect(tokenize('one', settings({ ngrams: [2, 2] }))).toEqual([]);
    expect(tokenize('', settings({ ngrams: [1, 3] }))).toEqual([]);
  });

  it('drops stop words before forming n-grams', () => {
    expect(tokenize('The service was not slow', settings({ stopWords: 'english', ngrams: [1, 2] }))).toEqual(['service', 'slow', 'service slow']);
    expect(tokenize('the pizza is the best', settings({ stopWords: ['The', 'is'] }))).toEqual(['pizza', 'best']);
    expect(tokenize('The pizza', settings({ stopWords: ['the'], lowercase: false }))).toEqual(['The', 'pizza']);
    expect(tokenize('It\'s what I don\'t like', settings({ stopWords: 'english' }))).toEqual(['like']);
  });

  it('has an English stop-word list of about 300 distinct lower-case words, sorted', () => {
    expect(ENGLISH_STOP_WORDS.length).toBeGreaterThan(250);
    expect(new Set(ENGLISH_STOP_WORDS).size).toBe(ENGLISH_STOP_WORDS.length);
    expect([...ENGLISH_STOP_WORDS].sort()).toEqual(ENGLISH_STOP_WORDS);
    for (const w of ENGLISH_STOP_WORDS) expect(tokenize(w, settings())).toEqual([w]);
    expect(ENGLISH_STOP_WORDS).toEqual(expect.arrayContaining(['the', 'and', 'of', 'not', 'yourselves']));
    expect(ENGLISH_STOP_WORDS).not.toContain('good');
  });
});

describe('hashToken', () => {
  // The published FNV-1a 32-bit test vectors (offset basis, 'a', 'foobar').
  it('is the 32-bit FNV-1a hash of the UTF-8 bytes modulo the buckets', () => {
    const full = 2 ** 32;
    expect(hashToken('', full)).toBe(0x811c9dc5);
    expect(hashToken('a', full)).toBe(0xe40c292c);
    expect(hashToken('foobar', full)).toBe(0xbf9cf968);
    expect(hashToken('foobar', 1000)).toBe(0xbf9cf968 % 1000);
  });

  it('hashes non-ASCII text by its UTF-8 bytes, so values are stable across platforms', () => {
    const fnv = (bytes: Buffer): number => {
      let h = 0x811c9dc5;
      for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return h;
    };
    for (const token of ['crème brûlée', '美味しい', 'not good', '😀 emoji', 'lone \ud800 surrogate']) {
      expect(hashToken(token, 2 ** 32)).toBe(fnv(Buffer.from(token, 'utf8')));
    }
    expect(hashToken('good food', 1024)).toBe(hashToken('good food', 1024));
    expect(hashToken('good food', 1024)).toBeLessThan(1024);
  });

  it('refuses a bucket count that is not an integer ≥ 1', () => {
    expect(() => hashToken('a', 0)).toThrow(ArgumentError);
    expect(() => hashToken('a', 2.5)).toThrow('hashing buckets must be an integer ≥ 1, got 2.5');
  });
});
