/**
 * The simulator's own token rule: 1.3 tokens a word (a word is a run of letters, digits and
 * apostrophes), plus one token per punctuation mark or symbol, at least 1. It is used for usage
 * metadata, countTokens and the simulator's quotas alike.
 *
 * It deliberately differs from the farm's estimate (workers/call-model.ts: characters / 4). Real
 * Gemini counts differ from any estimate, so every settle of the farm's limiter must correct a
 * reservation; a simulator that counted like the farm would make every correction a no-op and hide
 * bugs on that path (issue 8, defect 3: a correction that was counted as a second request).
 */
const WORD = /[\p{L}\p{N}']+/gu;
const PUNCTUATION = /[\p{P}\p{S}]/gu;

export function countTokens(text: string): number {
  return tokensOf(tallyTokens(text));
}

/**
 * The raw counts behind a token count. Tallies add up across pieces split at whitespace (no word
 * or mark spans a newline), so a prompt's prefix can be counted from its pieces' tallies without
 * recounting the text: how implicit caching reports the tokens of a repeated prefix.
 */
export interface TokenTally {
  words: number;
  marks: number;
}

export function tallyTokens(text: string): TokenTally {
  const words = text.match(WORD)?.length ?? 0;
  // Apostrophes belong to words (don't, it's), so they are not counted again as punctuation.
  const marks = (text.match(PUNCTUATION)?.length ?? 0) - (text.match(/'/g)?.length ?? 0);
  return { words, marks };
}

export function addTallies(a: TokenTally, b: TokenTally): TokenTally {
  return { words: a.words + b.words, marks: a.marks + b.marks };
}

export function tokensOf(tally: TokenTally): number {
  return Math.max(1, Math.ceil(tally.words * 1.3) + tally.marks);
}

/**
 * The longest prefix of `text` that counts at most `maxTokens`, always shorter than `text` (a
 * MAX_TOKENS answer is cut short). The count never falls as a prefix grows, so a binary search
 * over the prefix length finds it.
 */
export function truncateToTokens(text: string, maxTokens: number): string {
  let fits = 0;
  let tooLong = text.length;
  while (tooLong - fits > 1) {
    const mid = (fits + tooLong) >>> 1;
    if (countTokens(text.slice(0, mid)) <= maxTokens) fits = mid;
    else tooLong = mid;
  }
  return text.slice(0, fits);
}
