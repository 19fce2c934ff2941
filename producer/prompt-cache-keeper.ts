import type { CachedContent, GoogleGenAI } from '@google/genai';
import type { Redis } from 'ioredis';
import type { PriceTable } from '../core/cost/price-table.js';
import { toError } from '../core/errors.js';
import { isCacheGone } from '../core/gemini/cache-errors.js';
import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { cachedPrefixes, type CachedPrefix } from '../core/prompt-cache/cached-prefix.js';
import { cacheCreationReport, cacheStorageReport } from '../core/prompt-cache/cache-spend.js';
import { PromptCacheRecords, type PromptCacheRecord } from '../core/prompt-cache/prompt-cache-records.js';
import type { PromptLibrary } from '../core/prompts/prompt-library.js';
import { FencedError } from '../core/runs/run-ledger.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { Stage } from '../core/stages.js';
import { FarmCaches, type FarmCache } from './farm-caches.js';

export interface PromptCacheKeeperOptions {
  gemini: GoogleGenAI;
  redis: Redis;
  prefix: string;
  prompts: PromptLibrary;
  /** Prices of cache creation (input tokens) and storage; absent = not accounted. */
  prices?: PriceTable;
  /** Smallest system instruction (estimated tokens) given a cache; 0 = explicit caching off. @defaultValue 4096 */
  minTokens?: number;
  /** TTL set at creation and at every renewal. @defaultValue 600 */
  ttlS?: number;
  /** How often the caches of every run not owned by a live owner are looked for. @defaultValue 300000 */
  sweepEveryMs?: number;
  /** Timeout of one caches.* request. @defaultValue 30000 */
  requestTimeoutMs?: number;
  logger: Logger;
  metrics?: FarmMetrics;
}

interface Tracked {
  wanted: CachedPrefix[];
  token: () => string | undefined;
  /** Gemini's list was read for this run since this process took it: a dead owner's leftovers are resolved. */
  resolved: boolean;
  /** Operations on the run's caches run one at a time, in order. */
  chain: Promise<void>;
}

/**
 * The run owner's side of explicit context caching. For every run this `serve` owns (track), it
 * keeps one Gemini cache per cached prefix (cached-prefix.ts): creates it with a TTL, renews the
 * TTL while the run is active, recreates it when Gemini lost it, and deletes it when the run ends
 * (end). Records in Redis (PromptCacheRecords) say which cache name the workers send.
 *
 * Crash safety: a `creating` record is written before each creation, and every cache's display
 * name names its farm, run and key, so the next owner of a run reads Gemini's list once and
 * adopts a cache a dead owner created but never recorded, instead of making a second one, and
 * deletes any duplicate. Caches of runs that are over but were never cleaned up (every owner died,
 * or the run was cancelled while no `serve` ran) are deleted by the sweep; and whatever escapes
 * both expires by its TTL. A run given back to another replica keeps its caches (untrack).
 */
export class PromptCacheKeeper {
  readonly renewEveryMs: number;
  readonly #options: Required<Omit<PromptCacheKeeperOptions, 'prices' | 'metrics'>> & Pick<PromptCacheKeeperOptions, 'prices' | 'metrics'>;
  readonly #records: PromptCacheRecords;
  readonly #caches: FarmCaches;
  readonly #tracked = new Map<string, Tracked>();
  #timers: NodeJS.Timeout[] = [];
  #activeRuns: (() => Promise<string[]>) | undefined;
  #sweeping: Promise<number> | undefined;

  constructor(options: PromptCacheKeeperOptions) {
    this.#options = { minTokens: 4096, ttlS: 600, sweepEveryMs: 300_000, requestTimeoutMs: 30_000, ...options };
    this.#records = new PromptCacheRecords(options.redis, options.prefix);
    this.#caches = new FarmCaches(options.gemini, options.prefix, this.#options.ttlS, this.#options.requestTimeoutMs);
    // A quarter of the TTL leaves three renewals' worth of slack; at most a minute, so a cache
    // that vanished (deleted by hand, or expired while no owner ran) is recreated within a minute.
    this.renewEveryMs = Math.max(250, Math.min(60_000, (this.#options.ttlS * 1000) / 4));
  }

  get enabled(): boolean {
    return this.#options.minTokens > 0;
  }

  /** Renews every tracked run's caches on a timer; sweeps leftovers now and every `sweepEveryMs`. */
  start(activeRuns: () => Promise<string[]>): void {
    if (this.#timers.length > 0 || !this.enabled) return;
    this.#activeRuns = activeRuns;
    this.#timers.push(setInterval(() => this.#syncAll(), this.renewEveryMs));
    this.#timers.push(setInterval(() => void this.sweep(), this.#options.sweepEveryMs));
    for (const timer of this.#timers) timer.unref();
    void this.sweep();
  }

  /**
   * Starts keeping the caches of a run this process now owns; resolves once its caches exist
   * (or creating them failed), so the caller can let the run's first tasks go out after them.
   */
  track(runId: string, spec: RunSpec, stages: readonly Stage[], token: () => string | undefined): Promise<void> {
    if (!this.enabled || this.#tracked.has(runId)) return Promise.resolve();
    const wanted = cachedPrefixes(spec, stages, this.#options.prompts, this.#options.minTokens);
    if (wanted.length === 0) return Promise.resolve();
    this.#tracked.set(runId, { wanted, token, resolved: false, chain: Promise.resolve() });
    return this.sync(runId);
  }

  /** The run went to another owner (lease lost, or given back): its caches stay, for that owner. */
  untrack(runId: string): void {
    this.#tracked.delete(runId);
  }

  /** The run is over: deletes every cache Gemini holds for it and its records. Never throws. */
  async end(runId: string): Promise<void> {
    const tracked = this.#tracked.get(runId);
    if (!tracked) return;
    this.#tracked.delete(runId);
    await tracked.chain;
    try {
      const deleted = await this.#deleteAll(await this.#caches.list(runId));
      const token = tracked.token();
      if (token) await this.#records.clear(runId, token).catch((err: unknown) => (err instanceof FencedError ? undefined : Promise.reject(err)));
      if (deleted > 0) this.#options.logger.info({ runId, deleted }, 'explicit caches of the run deleted');
    } catch (err) {
      this.#options.logger.warn({ runId, err: toError(err) }, 'deleting the explicit caches of a finished run failed; their TTL or the next sweep ends them');
    }
  }

  /** Creates, adopts or renews what the run's caches need now. Never throws. */
  sync(runId: string): Promise<void> {
    const tracked = this.#tracked.get(runId);
    if (!tracked) return Promise.resolve();
    tracked.chain = tracked.chain.then(() =>
      this.#sync(runId, tracked).catch((err: unknown) => {
        if (err instanceof FencedError) return;
        this.#options.metrics?.promptCacheEvents.inc({ event: 'failed' });
        this.#options.logger.warn({ runId, err: toError(err) }, 'keeping the explicit caches of a run failed; will try again');
      }),
    );
    return tracked.chain;
  }

  /**
   * Deletes this farm's caches whose run is not active (over, deleted, unknown): what an owner
   * that died before a run's end, or a cancel while no `serve` ran, left behind. Never throws.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweep()
      .catch((err: unknown) => {
        this.#options.logger.warn({ err: toError(err) }, 'sweeping explicit caches failed');
        return 0;
      })
      .finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Stops the timers and waits for the operations in hand; caches stay (the next owner keeps them). */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await Promise.allSettled([...this.#tracked.values()].map((t) => t.chain));
    await this.#sweeping;
  }

  #syncAll(): void {
    for (const runId of this.#tracked.keys()) void this.sync(runId);
  }

  async #sweep(): Promise<number> {
    if (!this.#activeRuns) return 0;
    const listed = await this.#caches.list();
    if (listed.length === 0) return 0;
    const active = new Set(await this.#activeRuns());
    const orphans = listed.filter((c) => !active.has(c.runId));
    const deleted = await this.#deleteAll(orphans);
    if (deleted > 0) this.#options.logger.info({ deleted }, 'explicit caches of runs that are over deleted');
    return deleted;
  }

  async #sync(runId: string, tracked: Tracked): Promise<void> {
    const token = tracked.token();
    if (!token) return;
    let records = await this.#records.all(runId);
    if (!tracked.resolved || [...records.values()].some((r) => r.state === 'creating')) {
      await this.#resolve(runId, tracked, records, token);
      tracked.resolved = true;
      records = await this.#records.all(runId);
    }
    for (const prefix of tracked.wanted) {
      const record = records.get(prefix.key);
      if (!record) await this.#create(runId, prefix, token);
      // 0.9: a timer tick that comes a little early still renews.
      else if (record.state === 'live' && Date.now() - record.renewedAt >= this.renewEveryMs * 0.9) await this.#renew(runId, prefix, record, token);
    }
  }

  /**
   * Makes the records agree with what Gemini holds for the run: keeps the recorded cache of each
   * key, adopts an unrecorded one (created by an owner that died before recording it), deletes
   * duplicates and caches no longer wanted, and forgets records of caches that are gone.
   */
  async #resolve(runId: string, tracked: Tracked, records: Map<string, PromptCacheRecord>, token: string): Promise<void> {
    const listed = await this.#caches.list(runId);
    const wanted = new Map(tracked.wanted.map((p) => [p.key, p]));
    const surplus: FarmCache[] = [];
    const byKey = new Map<string, FarmCache[]>();
    for (const cache of listed) byKey.set(cache.key, [...(byKey.get(cache.key) ?? []), cache]);
    for (const [key, caches] of byKey) {
      const record = records.get(key);
      const prefix = wanted.get(key);
      const recorded = record?.state === 'live' ? caches.find((c) => c.name === record.name) : undefined;
      // Newest first: the one most likely to outlive the others.
      const keep = recorded ?? (prefix && record?.state !== 'refused' ? [...caches].sort((a, b) => b.createMs - a.createMs)[0] : undefined);
      surplus.push(...caches.filter((c) => c !== keep));
      if (keep && !recorded && prefix) await this.#adopt(runId, prefix, keep, token);
    }
    const names = new Set(listed.map((c) => c.name));
    for (const [key, record] of records) {
      if (record.state === 'creating' && !byKey.has(key)) await this.#records.put(runId, token, key, undefined);
      if (record.state === 'live' && !names.has(record.name)) await this.#forgetGone(runId, key, record, token);
    }
    const deleted = await this.#deleteAll(surplus);
    if (deleted > 0) this.#options.logger.warn({ runId, deleted }, 'deleted duplicate or unwanted explicit caches of the run');
  }

  async #adopt(runId: string, prefix: CachedPrefix, cache: FarmCache, token: string): Promise<void> {
    const now = Date.now();
    const tokens = cache.tokens ?? prefix.estimatedTokens;
    // Its creation was never accounted (its owner died before recording it); its storage is, from now on.
    const record: PromptCacheRecord = { state: 'live', model: prefix.model, stages: prefix.stages, name: cache.name, tokens, createdAt: cache.createMs, renewedAt: 0, expireTime: cache.expireTime ?? '', accountedUntil: now };
    await this.#records.account(runId, token, prefix.key, record, cacheCreationReport(this.#options.prices, prefix.model, tokens));
    this.#options.metrics?.promptCacheEvents.inc({ event: 'adopted' });
    this.#options.logger.info({ runId, cache: cache.name, stages: prefix.stages }, 'adopted an explicit cache a previous owner created');
  }

  async #create(runId: string, prefix: CachedPrefix, token: string): Promise<void> {
    const { logger, metrics } = this.#options;
    await this.#records.put(runId, token, prefix.key, { state: 'creating', model: prefix.model, stages: prefix.stages, since: Date.now() });
    let cache: CachedContent;
    try {
      cache = await this.#caches.create(runId, prefix);
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // Too small for this model, or a model without caching: the run does without (implicit caching still applies).
        await this.#records.put(runId, token, prefix.key, { state: 'refused', model: prefix.model, stages: prefix.stages, reason: toError(err).message.slice(0, 500), at: Date.now() });
        metrics?.promptCacheEvents.inc({ event: 'refused' });
        logger.warn({ runId, model: prefix.model, stages: prefix.stages, err: toError(err) }, 'Gemini refused an explicit cache; the run sends the system instruction instead');
        return;
      }
      // The `creating` record stays: the next sync looks in Gemini's list (a create that timed out may have made it).
      throw err;
    }
    const now = Date.now();
    const tokens = cache.usageMetadata?.totalTokenCount ?? prefix.estimatedTokens;
    const record: PromptCacheRecord = { state: 'live', model: prefix.model, stages: prefix.stages, name: cache.name!, tokens, createdAt: now, renewedAt: now, expireTime: cache.expireTime ?? '', accountedUntil: now };
    let recorded;
    try {
      recorded = await this.#records.account(runId, token, prefix.key, record, cacheCreationReport(this.#options.prices, prefix.model, tokens));
    } catch (err) {
      // Another owner has the run now and keeps its own cache: this one would only be billed.
      if (err instanceof FencedError) await this.#deleteAll([{ name: cache.name! }]);
      throw err;
    }
    if (!recorded) {
      await this.#deleteAll([{ name: cache.name! }]);
      return;
    }
    metrics?.promptCacheEvents.inc({ event: 'created' });
    logger.info({ runId, cache: cache.name, model: prefix.model, stages: prefix.stages, tokens }, 'explicit cache created');
  }

  async #renew(runId: string, prefix: CachedPrefix, record: Extract<PromptCacheRecord, { state: 'live' }>, token: string): Promise<void> {
    const { logger, metrics } = this.#options;
    let updated: CachedContent;
    try {
      updated = await this.#caches.renew(record.name);
    } catch (err) {
      if (!isCacheGone(err)) throw err;
      logger.warn({ runId, cache: record.name, stages: prefix.stages }, 'explicit cache gone (expired or deleted); creating it again');
      metrics?.promptCacheEvents.inc({ event: 'recreated' });
      await this.#forgetGone(runId, prefix.key, record, token);
      await this.#create(runId, prefix, token);
      return;
    }
    const now = Date.now();
    await this.#records.account(runId, token, prefix.key, { ...record, renewedAt: now, expireTime: updated.expireTime ?? record.expireTime, accountedUntil: now }, cacheStorageReport(this.#options.prices, record.model, record.tokens, now - record.accountedUntil));
    metrics?.promptCacheEvents.inc({ event: 'renewed' });
  }

  /** Drops the record of a cache Gemini no longer has, accounting its storage until it expired (or now). */
  async #forgetGone(runId: string, key: string, record: Extract<PromptCacheRecord, { state: 'live' }>, token: string): Promise<void> {
    const expired = Date.parse(record.expireTime);
    const until = Number.isNaN(expired) ? Date.now() : Math.min(Date.now(), expired);
    await this.#records.account(runId, token, key, undefined, cacheStorageReport(this.#options.prices, record.model, record.tokens, until - record.accountedUntil));
  }

  async #deleteAll(caches: readonly { name: string }[]): Promise<number> {
    const deleted = await this.#caches.delete(caches);
    this.#options.metrics?.promptCacheEvents.inc({ event: 'deleted' }, deleted);
    return deleted;
  }
}
