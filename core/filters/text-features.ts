/**
 * Features of a text that the corpus statistics count: words, its opening and word n-grams
 * (people's names: person-names.ts). Shared by the live filters and the offline audit.
 */
/** Function words: they recur in any prose, so no feature is made of them alone. */
export const STOPWORD_LIST: readonly string[] = 'a an the and or but if of to in on at by for with from as is are was were be been being it its this that these those i you he she we they me him her us them my your his our their not no so do does did has have had will would can could should may might must than then there here what which who whom when where why how all any each few more most other some such only own same too very just also into about over after before under again further once'.split(' ');
const STOPWORDS = new Set(STOPWORD_LIST);
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

/** A text's words and each word's hash32, computed once for every filter that reads them. */
export interface Tokens {
  words: string[];
  hashes: Uint32Array;
}

// The per-item rules, the n-gram sample and MinHash all read one item's words, a few awaits
// apart (other items' checks interleave), so the last few texts' tokens are kept. Map lookup by
// a string reuses the string's cached hash, and a hit on the same string object is a pointer compare.
const recentTokens = new Map<string, Tokens>();
const RECENT_TOKENS = 16;

/** `words(text)` and their hashes, remembered for the last few texts. */
export function tokenize(text: string): Tokens {
  const known = recentTokens.get(text);
  if (known) return known;
  const list = words(text);
  const hashes = new Uint32Array(list.length);
  for (let i = 0; i < list.length; i++) hashes[i] = hash32(list[i]!);
  const tokens = { words: list, hashes };
  if (recentTokens.size >= RECENT_TOKENS) recentTokens.delete(recentTokens.keys().next().value!);
  recentTokens.set(text, tokens);
  return tokens;
}

/** The first `n` words, lower-cased: how an item opens. */
export function opening(text: string, n = 5): string {
  // Only the head is tokenized (this runs on every item): if it holds more than n words, the n-th
  // is whole; otherwise the text is short or oddly spaced, and all of it is read.
  const head = words(text.slice(0, 32 * (n + 1)));
  return (head.length > n ? head : words(text)).slice(0, n).join(' ');
}

/** FNV-1a, 32 bits. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Distinct word n-grams (2–6) of a text, consistently sampled (one in `sampleEvery` by a hash of
 * its words) so every worker tracks the same subset and an item costs tens of updates, not thousands.
 * N-grams made only of function words are skipped: they recur in any prose.
 */
export function sampledNgrams({ words: tokens, hashes }: Tokens, sampleEvery = 8, min = 2, max = 6): string[] {
  // N-gram hashes are extended word by word from the words' hashes; only sampled n-grams become strings.
  const stop = tokens.map((w) => STOPWORDS.has(w));
  const out = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    let h = 0x811c9dc5;
    let content = 0;
    for (let n = 1; n <= max && i + n <= tokens.length; n++) {
      h = Math.imul(h ^ hashes[i + n - 1]!, 0x01000193) >>> 0;
      if (!stop[i + n - 1]) content++;
      if (n >= min && content > 0 && h % sampleEvery === 0) out.add(tokens.slice(i, i + n).join(' '));
    }
  }
  return [...out];
}

export function isStopword(word: string): boolean {
  return STOPWORDS.has(word);
}
