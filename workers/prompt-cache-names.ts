import { promptCacheKey } from '../core/prompt-cache/cached-prefix.js';
import type { PromptCacheRecords } from '../core/prompt-cache/prompt-cache-records.js';
import { FreshValues } from './fresh-values.js';

type Names = Map<string, string>;

/**
 * Which explicit cache, if any, a worker sends for a request: the run owner's `live` records
 * (PromptCacheRecords), read at most every `ttlMs` per run and shared by that run's tasks
 * (FreshValues: single-flight, bounded). A cache a call found gone is not sent again; the run's records
 * are read afresh on its next call, so a cache the owner recreated is picked up at once.
 */
export class PromptCacheNames {
  readonly #runs: FreshValues<Names>;
  readonly #gone = new Set<string>();

  constructor(
    readonly records: PromptCacheRecords,
    readonly ttlMs = 2000,
    readonly maxRuns = 200,
  ) {
    this.#runs = new FreshValues(async (runId) => {
      const names: Names = new Map();
      for (const [key, record] of await records.all(runId)) if (record.state === 'live') names.set(key, record.name);
      return names;
    }, ttlMs, maxRuns);
  }

  /** The cache holding exactly `system` for `model` in this run, or undefined: send it yourself. */
  async nameFor(runId: string, model: string, system: string): Promise<string | undefined> {
    const names = await this.#runs.get(runId);
    // Most runs have no explicit cache: no hashing for them.
    if (names.size === 0) return undefined;
    const name = names.get(promptCacheKey(model, system));
    return name && !this.#gone.has(name) ? name : undefined;
  }

  /** Whether this process already knew `name` to be gone; records it and re-reads the run next time. */
  gone(runId: string, name: string): boolean {
    const known = this.#gone.has(name);
    this.#gone.add(name);
    // Bounded: names are few (a handful per run), the oldest are forgotten first.
    if (this.#gone.size > 1000) this.#gone.delete(this.#gone.values().next().value!);
    this.#runs.stale(runId);
    return known;
  }
}
