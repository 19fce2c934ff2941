import type { CachedContent, GoogleGenAI } from '@google/genai';
import { isCacheGone } from '../core/gemini/cache-errors.js';
import { cacheDisplayName, parseCacheDisplayName } from '../core/prompt-cache/cache-display-name.js';
import type { CachedPrefix } from '../core/prompt-cache/cached-prefix.js';

/** One of this farm's caches as Gemini lists it: its run and key come from its display name. */
export interface FarmCache {
  name: string;
  runId: string;
  key: string;
  tokens: number | undefined;
  createMs: number;
  expireTime: string | undefined;
}

/**
 * This farm's explicit caches at Gemini, through `ai.caches`: made under a display name that
 * says whose they are, listed by it (Gemini keeps caches per project, shared by every farm and
 * app using the key), renewed, deleted. Every request has its own timeout.
 */
export class FarmCaches {
  constructor(
    readonly gemini: GoogleGenAI,
    readonly prefix: string,
    readonly ttlS: number,
    readonly requestTimeoutMs = 30_000,
  ) {}

  create(runId: string, prefix: CachedPrefix): Promise<CachedContent> {
    const displayName = cacheDisplayName(this.prefix, runId, prefix.key);
    return this.gemini.caches.create({ model: prefix.model, config: { systemInstruction: prefix.system, displayName, ttl: `${this.ttlS}s`, httpOptions: this.#http() } });
  }

  /** Sets the TTL again from now; throws what Gemini answers (a cache gone: see isCacheGone). */
  renew(name: string): Promise<CachedContent> {
    return this.gemini.caches.update({ name, config: { ttl: `${this.ttlS}s`, httpOptions: this.#http() } });
  }

  /** Every cache of this farm, or of one run. */
  async list(runId?: string): Promise<FarmCache[]> {
    const out: FarmCache[] = [];
    for await (const cache of await this.gemini.caches.list({ config: { pageSize: 1000, httpOptions: this.#http() } })) {
      const parsed = parseCacheDisplayName(this.prefix, cache.displayName);
      if (!parsed || !cache.name || (runId !== undefined && parsed.runId !== runId)) continue;
      out.push({ name: cache.name, runId: parsed.runId, key: parsed.key, tokens: cache.usageMetadata?.totalTokenCount, createMs: Date.parse(cache.createTime ?? '') || 0, expireTime: cache.expireTime });
    }
    return out;
  }

  /** Deletes caches by name; one already gone counts as deleted. Returns how many. */
  async delete(caches: readonly { name: string }[]): Promise<number> {
    let deleted = 0;
    for (const { name } of caches) {
      try {
        await this.gemini.caches.delete({ name, config: { httpOptions: this.#http() } });
      } catch (err) {
        if (!isCacheGone(err)) throw err;
      }
      deleted++;
    }
    return deleted;
  }

  #http() {
    return { timeout: this.requestTimeoutMs };
  }
}
