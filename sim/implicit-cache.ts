import type { PromptLine } from './prompt.js';
import { addTallies, tokensOf, type TokenTally } from './tokens.js';

/** A prefix of a prompt, ending at a line's end: its hash and its tokens. */
interface Boundary {
  key: string;
  tokens: number;
}

/**
 * Every prefix of the prompt that ends at a line's end and counts at least `minTokens`. Each
 * prefix is named by a 64-bit hash (two FNV-1a variants) of the text so far, with each piece's
 * role mixed in, so the same words said by the user and by the system instruction are different
 * prefixes. Tokens come from the lines' summed tallies, as if the prefix were counted on its own.
 */
function boundaries(lines: readonly PromptLine[], minTokens: number): Boundary[] {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  const mix = (code: number) => {
    h1 = Math.imul(h1 ^ code, 0x01000193);
    h2 = Math.imul(h2 ^ code, 0x5bd1e995);
  };
  let tally: TokenTally = { words: 0, marks: 0 };
  const out: Boundary[] = [];
  for (const line of lines) {
    if (line.role !== undefined) {
      for (let i = 0; i < line.role.length; i++) mix(line.role.charCodeAt(i));
      mix(0);
    }
    for (let i = 0; i < line.text.length; i++) mix(line.text.charCodeAt(i));
    mix(10);
    tally = addTallies(tally, line.tally);
    const tokens = tokensOf(tally);
    if (tokens >= minTokens) out.push({ key: `${(h1 >>> 0).toString(36)}.${(h2 >>> 0).toString(36)}`, tokens });
  }
  return out;
}

/**
 * Gemini's implicit caching, as the simulator models it: when a model is sent a prompt whose
 * beginning (at least `minTokens` of it, ending at a line break or at the end of the system
 * instruction or a part) it saw in another prompt within the last `ttlMs`, that beginning is
 * reported as cached (`cachedContentTokenCount`, a part of `promptTokenCount`). Gemini caches at
 * finer grain; line breaks are where a stable prefix such as a universe context ends in practice.
 *
 * Memory is bounded: at most `maxEntries` prefixes are remembered, the least recently seen go first.
 */
export class ImplicitCache {
  /** `${model} ${prefix hash}` → when it was last seen; Map order is least recently seen first. */
  readonly #seen = new Map<string, number>();

  constructor(
    readonly ttlMs = 300_000,
    readonly maxEntries = 100_000,
  ) {}

  /** Tokens of the longest prefix this model saw recently (0 if none), then remembers this prompt's prefixes. */
  cachedTokens(model: string, lines: readonly PromptLine[], minTokens: number, now = Date.now()): number {
    const found = boundaries(lines, Math.max(1, minTokens));
    let cached = 0;
    for (let i = found.length - 1; i >= 0; i--) {
      const seen = this.#seen.get(`${model} ${found[i]!.key}`);
      if (seen !== undefined && now - seen < this.ttlMs) {
        cached = found[i]!.tokens;
        break;
      }
    }
    for (const { key } of found) {
      const name = `${model} ${key}`;
      this.#seen.delete(name);
      this.#seen.set(name, now);
    }
    for (const name of this.#seen.keys()) {
      if (this.#seen.size <= this.maxEntries) break;
      this.#seen.delete(name);
    }
    return cached;
  }
}
