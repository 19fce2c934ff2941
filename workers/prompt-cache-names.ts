import { promptCacheKey } from '../core/prompt-cache/cached-prefix.js';
import type { PromptCacheRecords } from '../core/prompt-cache/prompt-cache-records.js';

type Names = Map<string, string>;
interface RunNames {
  names: Names;
  at: number;
  reading?: Promise<Names>;
}

/**
 * Which explicit cache, if any, a worker sends for a request: the run owner's `live` records
 * (PromptCacheRecords), read at most every `ttlMs` per run and shared by that run's tasks
 * (single-flight, like RunCache). A cache a call found gone is not sent again; the run's records
 * are read afresh on its next call, so a cache the owner recreated is picked up at once.
 */
export class PromptCacheNames {
  readonly #runs = new Map<string, RunNames>();
  readonly #gone = new Set<string>();

  constructor(
    readonly records: PromptCacheRecords,
    readonly ttlMs = 2000,
    readonly maxRuns = 200,
  ) {}

  /** The cache holding exactly `system` for `model` in this run, or undefined: send it yourself. */
  async nameFor(runId: string, model: string, system: string): Promise<string | undefined> {
    const names = await this.#names(runId);
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
    const entry = this.#runs.get(runId);
    if (entry) entry.at = 0;
    return known;
  }

  #names(runId: string): Names | Promise<Names> {
    const entry = this.#runs.get(runId);
    if (entry?.reading) return entry.reading;
    if (entry && Date.now() - entry.at < this.ttlMs) return entry.names;
    const fresh: RunNames = entry ?? { names: new Map(), at: 0 };
    fresh.reading = this.records.all(runId).then(
      (records) => {
        const names: Names = new Map();
        for (const [key, record] of records) if (record.state === 'live') names.set(key, record.name);
        fresh.names = names;
        fresh.at = Date.now();
        delete fresh.reading;
        return names;
      },
      (err: unknown) => {
        delete fresh.reading;
        throw err;
      },
    );
    this.#runs.delete(runId);
    if (this.#runs.size >= this.maxRuns) this.#runs.delete(this.#runs.keys().next().value!);
    this.#runs.set(runId, fresh);
    return fresh.reading;
  }
}
