interface Entry<V> {
  value: V;
  at: number;
  reading?: Promise<V>;
}

/**
 * Values a worker re-reads at most every `ttlMs` per key (a run's state, its explicit caches'
 * names). Reads are single-flight: the tasks that find a key stale together (64 at once at full
 * concurrency) share one read. Bounded: the oldest key is forgotten first (a forgotten key is
 * read again).
 */
export class FreshValues<V> {
  readonly #entries = new Map<string, Entry<V>>();

  constructor(
    readonly read: (key: string) => Promise<V>,
    readonly ttlMs: number,
    readonly maxKeys = 200,
  ) {}

  get(key: string): V | Promise<V> {
    const cached = this.#entries.get(key);
    if (cached?.reading) return cached.reading;
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.value;
    const entry: Entry<V> = { value: cached?.value as V, at: cached?.at ?? 0 };
    entry.reading = this.read(key).then(
      (value) => {
        entry.value = value;
        entry.at = Date.now();
        delete entry.reading;
        return value;
      },
      (err: unknown) => {
        // The next caller reads again.
        delete entry.reading;
        throw err;
      },
    );
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxKeys) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, entry);
    return entry.reading;
  }

  /** The next `get` of this key reads again. */
  stale(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) entry.at = 0;
  }
}
