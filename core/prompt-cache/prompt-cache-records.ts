import type { Redis, Result } from 'ioredis';
import { runKeys } from '../keys.js';
import { FencedError } from '../runs/run-ledger.js';
import type { UsageReport } from '../runs/run-results.js';
import type { Stage } from '../stages.js';

/**
 * A run's explicit caches as the farm knows them, one record per cache key (see cached-prefix.ts)
 * in the hash `run:<id>:prompt-caches`. The run's owner (PromptCacheKeeper) is the only writer,
 * and every write is fenced by its lease token like the ledger's, so an owner that lost the run
 * cannot overwrite what the new one recorded. Workers read the `live` records to find the cache
 * name to send.
 *
 * - `creating`: written before `caches.create`, so a crash in between leaves a trace; the next
 *   owner resolves it against Gemini's list (adopts the cache, or creates it if none was made).
 * - `live`: the cache exists (as of `renewedAt`); its storage is accounted up to `accountedUntil`.
 * - `refused`: Gemini would not create it (too small for the model, say): the run does without.
 */
export type PromptCacheRecord =
  | { state: 'creating'; model: string; stages: Stage[]; since: number }
  | { state: 'live'; model: string; stages: Stage[]; name: string; tokens: number; createdAt: number; renewedAt: number; expireTime: string; accountedUntil: number }
  | { state: 'refused'; model: string; stages: Stage[]; reason: string; at: number };

/** KEYS: owner, caches. ARGV: token, field, record JSON ('' deletes the field). → 1, or -1 fenced. */
const PUT = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[3] == '' then redis.call('hdel', KEYS[2], ARGV[2]) else redis.call('hset', KEYS[2], ARGV[2], ARGV[3]) end
return 1`;

/** KEYS: owner, caches. ARGV: token. → 1, or -1 fenced. */
const CLEAR = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('del', KEYS[2])
return 1`;

/**
 * Records a cache's new state and hands its spend to the run's owner in one step, so a cost is
 * accounted exactly once even if the owner dies right after: the usage report goes on the run's
 * results stream (committed like a worker's), only while the run is active (a stream entry
 * written after the run ended would never be read).
 * KEYS: owner, caches, meta, results. ARGV: token, field, record JSON ('' deletes it), report JSON ('' none).
 * → 1, 0 run over (nothing written), -1 fenced.
 */
const ACCOUNT = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local state = redis.call('hget', KEYS[3], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
if ARGV[3] == '' then redis.call('hdel', KEYS[2], ARGV[2]) else redis.call('hset', KEYS[2], ARGV[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('xadd', KEYS[4], '*', 'u', ARGV[4]) end
return 1`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfPromptCachePut(owner: string, caches: string, token: string, field: string, record: string): Result<number, Context>;
    sdfPromptCacheClear(owner: string, caches: string, token: string): Result<number, Context>;
    sdfPromptCacheAccount(owner: string, caches: string, meta: string, results: string, token: string, field: string, record: string, report: string): Result<number, Context>;
  }
}

export class PromptCacheRecords {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    if (typeof (redis as Partial<Redis>).sdfPromptCachePut !== 'function') {
      redis.defineCommand('sdfPromptCachePut', { lua: PUT, numberOfKeys: 2 });
      redis.defineCommand('sdfPromptCacheClear', { lua: CLEAR, numberOfKeys: 2 });
      redis.defineCommand('sdfPromptCacheAccount', { lua: ACCOUNT, numberOfKeys: 4 });
    }
  }

  async all(runId: string): Promise<Map<string, PromptCacheRecord>> {
    const raw = await this.redis.hgetall(runKeys(this.prefix, runId).promptCaches);
    const records = new Map<string, PromptCacheRecord>();
    for (const [key, json] of Object.entries(raw)) {
      try {
        records.set(key, JSON.parse(json) as PromptCacheRecord);
      } catch {
        // An unreadable record is as good as none: the owner recreates what it wants.
      }
    }
    return records;
  }

  /** Writes (or with `undefined`, removes) one record; throws FencedError if `token` no longer owns the run. */
  async put(runId: string, token: string, key: string, record: PromptCacheRecord | undefined): Promise<void> {
    const k = runKeys(this.prefix, runId);
    if ((await this.redis.sdfPromptCachePut(k.owner, k.promptCaches, token, key, record ? JSON.stringify(record) : '')) === -1) throw new FencedError(runId);
  }

  async clear(runId: string, token: string): Promise<void> {
    const k = runKeys(this.prefix, runId);
    if ((await this.redis.sdfPromptCacheClear(k.owner, k.promptCaches, token)) === -1) throw new FencedError(runId);
  }

  /**
   * Writes (or with `undefined`, removes) the record and reports the spend (if any) together;
   * false when the run is over (nothing written).
   */
  async account(runId: string, token: string, key: string, record: PromptCacheRecord | undefined, report: UsageReport | undefined): Promise<boolean> {
    const k = runKeys(this.prefix, runId);
    const outcome = await this.redis.sdfPromptCacheAccount(k.owner, k.promptCaches, k.meta, k.results, token, key, record ? JSON.stringify(record) : '', report ? JSON.stringify(report) : '');
    if (outcome === -1) throw new FencedError(runId);
    return outcome === 1;
  }
}
