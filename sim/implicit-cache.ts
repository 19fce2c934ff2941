import { hash32 } from './random.js';

/**
 * Gemini's implicit caching, reduced to what the farm's accounting needs: a request whose system
 * instruction (the stable beginning of every farm prompt) counts at least `minTokens` and was sent
 * to the same model within `ttlMs` reports that instruction's tokens as cached
 * (`cachedContentTokenCount`, a part of `promptTokenCount`). Gemini caches any repeated prefix at
 * finer grain; the system instruction is where the farm's stable prefix ends.
 *
 * Memory is bounded: at most `maxEntries` instructions are remembered, the least recently seen go first.
 */
export class ImplicitCache {
  /** `${model} ${hash} ${length}` → when it was last seen; Map order is least recently seen first. */
  readonly #seen = new Map<string, number>();

  constructor(
    readonly ttlMs = 300_000,
    readonly maxEntries = 100_000,
  ) {}

  /** Cached tokens of this request (0 on a first sighting or below the minimum); remembers the instruction. */
  cachedTokens(model: string, system: string, systemTokens: number, minTokens: number, now = Date.now()): number {
    if (!system || systemTokens < Math.max(1, minTokens)) return 0;
    const key = `${model} ${hash32(system)} ${system.length}`;
    const seen = this.#seen.get(key);
    this.#seen.delete(key);
    this.#seen.set(key, now);
    if (this.#seen.size > this.maxEntries) this.#seen.delete(this.#seen.keys().next().value!);
    return seen !== undefined && now - seen < this.ttlMs ? systemTokens : 0;
  }
}
