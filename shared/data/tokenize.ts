import { StopWords, TextSettings } from '../config/job-spec';
import { ArgumentError } from '../errors';

/**
 * A common English stop-word list: pronouns, determiners, prepositions,
 * conjunctions, auxiliary verbs and frequent adverbs, lower case and sorted,
 * with the contractions this tokenizer keeps whole ("don't", "it's"). Of the
 * kind of scikit-learn's `ENGLISH_STOP_WORDS`, not a copy of it. Like that
 * list it holds negations ("not", "no", "nor"), so sentiment models usually
 * keep `stopWords: 'none'`.
 */
export const ENGLISH_STOP_WORDS: readonly string[] = Object.freeze([
  'a', 'about', 'above', 'across', 'after', 'afterwards', 'again', 'against', 'ain\'t', 'all', 'almost', 'alone',
  'along', 'already', 'also', 'although', 'always', 'am', 'among', 'amongst', 'an', 'and', 'another', 'any',
  'anyhow', 'anyone', 'anything', 'anyway', 'anywhere', 'are', 'aren\'t', 'around', 'as', 'at', 'back', 'be',
  'became', 'because', 'become', 'becomes', 'becoming', 'been', 'before', 'beforehand', 'behind', 'being', 'below',
  'beside', 'besides', 'between', 'beyond', 'both', 'but', 'by', 'can', 'can\'t', 'cannot', 'could', 'couldn\'t',
  'did', 'didn\'t', 'do', 'does', 'doesn\'t', 'doing', 'don\'t', 'done', 'down', 'during', 'each', 'eg', 'either',
  'else', 'elsewhere', 'enough', 'etc', 'even', 'ever', 'every', 'everyone', 'everything', 'everywhere', 'except',
  'few', 'for', 'former', 'formerly', 'from', 'further', 'furthermore', 'had', 'hadn\'t', 'has', 'hasn\'t', 'have',
  'haven\'t', 'having', 'he', 'he\'d', 'he\'ll', 'he\'s', 'hence', 'her', 'here', 'here\'s', 'hereafter', 'hereby',
  'herein', 'hereupon', 'hers', 'herself', 'him', 'himself', 'his', 'how', 'how\'s', 'however', 'i', 'i\'d', 'i\'ll',
  'i\'m', 'i\'ve', 'ie', 'if', 'in', 'inc', 'indeed', 'into', 'is', 'isn\'t', 'it', 'it\'s', 'its', 'itself', 'just',
  'last', 'latter', 'latterly', 'least', 'less', 'let\'s', 'ltd', 'many', 'may', 'me', 'meanwhile', 'might', 'mine',
  'more', 'moreover', 'most', 'mostly', 'much', 'must', 'mustn\'t', 'my', 'myself', 'namely', 'neither', 'never',
  'nevertheless', 'next', 'no', 'nobody', 'none', 'noone', 'nor', 'not', 'nothing', 'now', 'nowhere', 'of', 'off',
  'often', 'on', 'once', 'one', 'only', 'onto', 'or', 'other', 'others', 'otherwise', 'ought', 'our', 'ours',
  'ourselves', 'out', 'over', 'own', 'per', 'perhaps', 'rather', 're', 'same', 'seem', 'seemed', 'seeming', 'seems',
  'several', 'shall', 'shan\'t', 'she', 'she\'d', 'she\'ll', 'she\'s', 'should', 'shouldn\'t', 'since', 'so', 'some',
  'somehow', 'someone', 'something', 'sometime', 'sometimes', 'somewhere', 'still', 'such', 'than', 'that',
  'that\'s', 'the', 'their', 'theirs', 'them', 'themselves', 'then', 'thence', 'there', 'there\'s', 'thereafter',
  'thereby', 'therefore', 'therein', 'thereupon', 'these', 'they', 'they\'d', 'they\'ll', 'they\'re', 'they\'ve',
  'this', 'those', 'though', 'through', 'throughout', 'thru', 'thus', 'to', 'together', 'too', 'toward', 'towards',
  'under', 'unless', 'until', 'up', 'upon', 'us', 'very', 'via', 'was', 'wasn\'t', 'we', 'we\'d', 'we\'ll', 'we\'re',
  'we\'ve', 'were', 'weren\'t', 'what', 'what\'s', 'whatever', 'when', 'when\'s', 'whence', 'whenever', 'where',
  'where\'s', 'whereafter', 'whereas', 'whereby', 'wherein', 'whereupon', 'wherever', 'whether', 'which', 'while',
  'whilst', 'whither', 'who', 'who\'s', 'whoever', 'whole', 'whom', 'whose', 'why', 'why\'s', 'will', 'with',
  'within', 'without', 'won\'t', 'would', 'wouldn\'t', 'yet', 'you', 'you\'d', 'you\'ll', 'you\'re', 'you\'ve', 'your',
  'yours', 'yourself', 'yourselves',
]);

const ENGLISH = new Set(ENGLISH_STOP_WORDS);
const NO_STOP_WORDS: ReadonlySet<string> = new Set();
/** A given list as a set, built once per list (tokenize runs once per row). */
const givenLists = new WeakMap<readonly string[], { lowercase: ReadonlySet<string>; asGiven: ReadonlySet<string> }>();

/** The words to drop, compared with words after lower-casing when the settings lower-case. */
function stopSet(stopWords: StopWords, lowercase: boolean): ReadonlySet<string> {
  if (stopWords === 'none') return NO_STOP_WORDS;
  if (stopWords === 'english') return ENGLISH;
  let sets = givenLists.get(stopWords);
  if (sets === undefined) {
    sets = { lowercase: new Set(stopWords.map((w) => w.toLowerCase())), asGiven: new Set(stopWords) };
    givenLists.set(stopWords, sets);
  }
  // A list written 'The' still drops 'the' from lower-cased text.
  return lowercase ? sets.lowercase : sets.asGiven;
}

const WORD = /[\p{L}\p{N}']+/gu;

/**
 * Splits a text into tokens as scikit-learn's CountVectorizer does with
 * word n-grams: lower-case (when set), words are runs of letters, digits
 * and apostrophes with apostrophes trimmed at both ends, stop words are
 * dropped, then every n-gram of `ngrams[0]` to `ngrams[1]` consecutive
 * remaining words, joined by one space: all unigrams first, then bigrams.
 * Unlike CountVectorizer's default pattern, one-character words are kept.
 *
 * @example
 * tokenize("The food wasn't GOOD", { ...DEFAULT_TEXT_SETTINGS, ngrams: [1, 2] });
 * // ['the', 'food', "wasn't", 'good', 'the food', "food wasn't", "wasn't good"]
 */
export function tokenize(text: string, s: TextSettings): string[] {
  const stop = stopSet(s.stopWords, s.lowercase);
  const words: string[] = [];
  for (const match of (s.lowercase ? text.toLowerCase() : text).matchAll(WORD)) {
    const word = trimApostrophes(match[0]);
    if (word !== '' && !stop.has(word)) words.push(word);
  }
  const [min, max] = s.ngrams;
  if (min === 1 && max === 1) return words;
  const tokens: string[] = min === 1 ? words.slice() : [];
  for (let n = Math.max(min, 2); n <= max; n++) {
    for (let i = 0; i + n <= words.length; i++) tokens.push(words.slice(i, i + n).join(' '));
  }
  return tokens;
}

function trimApostrophes(word: string): string {
  let from = 0;
  let to = word.length;
  while (from < to && word[from] === '\'') from++;
  while (to > from && word[to - 1] === '\'') to--;
  return from === 0 && to === word.length ? word : word.slice(from, to);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * A token's bucket in the hashing trick: the 32-bit FNV-1a hash of its
 * UTF-8 bytes, modulo `buckets`. Stable across processes, platforms and
 * versions (models saved with hashing depend on it). A lone surrogate
 * hashes as U+FFFD, as TextEncoder writes it.
 *
 * @throws ArgumentError when `buckets` is not an integer ≥ 1.
 * @example
 * hashToken('a', 2 ** 32 - 1); // 0xe40c292c % (2 ** 32 - 1)
 * hashToken('good food', 1024);
 */
export function hashToken(token: string, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new ArgumentError(`hashing buckets must be an integer ≥ 1, got ${buckets}`);
  let h = FNV_OFFSET;
  const byte = (b: number): void => {
    h = Math.imul(h ^ b, FNV_PRIME);
  };
  for (let i = 0; i < token.length; i++) {
    let cp = token.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < token.length) {
      const low = token.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) byte(cp);
    else if (cp < 0x800) { byte(0xc0 | (cp >> 6)); byte(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { byte(0xe0 | (cp >> 12)); byte(0x80 | ((cp >> 6) & 0x3f)); byte(0x80 | (cp & 0x3f)); }
    else { byte(0xf0 | (cp >> 18)); byte(0x80 | ((cp >> 12) & 0x3f)); byte(0x80 | ((cp >> 6) & 0x3f)); byte(0x80 | (cp & 0x3f)); }
  }
  return (h >>> 0) % buckets;
}
