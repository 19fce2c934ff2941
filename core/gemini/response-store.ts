import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Redis, Result } from 'ioredis';
import { responseCacheKeys } from '../keys.js';
import type { Usage } from '../task.js';

/**
 * The response cache's storage: model answers by request key (core/gemini/request-key.ts), in
 * Redis, farm-wide, each with a TTL, all of them within a byte bound. The one writer of the
 * `rcache` keys.
 *
 * Bounded whatever the runs: Redis here must run with `noeviction` (BullMQ requires it), so the
 * cache evicts for itself. Every entry is charged its compressed size plus its key and a fixed
 * overhead for Redis's own structures (measured by test/core/gemini/response-store.test.ts); a
 * sorted set lists the entries in the order they were stored with their charge in the score, and
 * one script stores an entry and pops the oldest until the charges are back under the bound.
 * Entries that reached their TTL leave Redis by themselves; their index members (a few dozen
 * bytes, still charged, so never unaccounted) are popped by the next stores. Eviction is FIFO, oldest
 * second first: a hit does not make an answer younger, so a lookup costs one GET and no write.
 */

/** A stored answer: what the model said, and what asking it cost, so a hit knows what it saved. */
export interface StoredAnswer {
  text: string;
  finishReason: string;
  usage: Pick<Usage, 'promptTokens' | 'outputTokens' | 'thoughtsTokens' | 'costUsd' | 'unpricedCalls'>;
}

export interface ResponseStoreOptions {
  redis: Redis;
  prefix: string;
  /** Seconds an answer is kept (SDF_RESPONSE_CACHE_TTL_S). */
  ttlS: number;
  /** Most bytes charged for all entries together (SDF_RESPONSE_CACHE_MAX_BYTES). */
  maxBytes: number;
}

export type PutOutcome = 'stored' | 'present' | 'too-large';

export interface PutResult {
  outcome: PutOutcome;
  /** Entries popped to stay under the bound. */
  evicted: number;
  /** Index members of entries past their TTL, popped. */
  expired: number;
  /** Bytes charged after this put (absent when nothing was sent to Redis). */
  bytes?: number;
}

/**
 * Redis's own memory per entry beyond its key and value: the string's object and dict entry, its
 * expiry entry, the index member (the request key again) with its skiplist node and dict entry.
 * Measured at about 220 bytes beyond the value and the two copies of the key (MEMORY USAGE and
 * used_memory over 2,000 entries: 730 B of Redis per entry whose value is 354 B, charged 804 B).
 */
export const ENTRY_OVERHEAD_BYTES = 300;

/** Score = stored-at seconds × SLOT + charge: both in one exact double (2^32 s × 2^21 < 2^53). */
const SLOT = 2 ** 21;

/** Index members past their TTL popped per put at most, so one put's script stays short. */
const EXPIRED_PER_PUT = 64;

/**
 * KEYS: entry, index, bytes. ARGV: value, request key, charge, ttl s, max bytes, entries prefix.
 * → {stored 1 | present 0, evicted, expired, bytes}
 */
const PUT = `
local SLOT = ${SLOT}
local now = tonumber(redis.call('time')[1])
local ttl = tonumber(ARGV[4])
local bytes = tonumber(redis.call('get', KEYS[3]) or '0')
local expired, evicted, stored = 0, 0, 0
for _ = 1, ${EXPIRED_PER_PUT} do
  local head = redis.call('zrange', KEYS[2], 0, 0, 'WITHSCORES')
  if #head == 0 or math.floor(tonumber(head[2]) / SLOT) > now - ttl then break end
  redis.call('zrem', KEYS[2], head[1])
  redis.call('del', ARGV[6] .. head[1])
  bytes = bytes - tonumber(head[2]) % SLOT
  expired = expired + 1
end
if redis.call('set', KEYS[1], ARGV[1], 'EX', ttl, 'NX') then
  -- Stored again after its entry expired: its old member's charge is given back first.
  local old = redis.call('zscore', KEYS[2], ARGV[2])
  if old then bytes = bytes - tonumber(old) % SLOT end
  local charge = tonumber(ARGV[3])
  redis.call('zadd', KEYS[2], string.format('%.0f', now * SLOT + charge), ARGV[2])
  bytes = bytes + charge
  stored = 1
end
local max = tonumber(ARGV[5])
-- Within one second members order by charge, not by arrival: the entry this put stored must not
-- be the one it evicts (its charge is at most an eighth of the bound, so others always go first).
local own = nil
while bytes > max do
  local popped = redis.call('zpopmin', KEYS[2])
  if #popped == 0 then
    bytes = own and tonumber(own[2]) % SLOT or 0
    break
  end
  if stored == 1 and popped[1] == ARGV[2] then own = popped
  else
    redis.call('del', ARGV[6] .. popped[1])
    bytes = bytes - tonumber(popped[2]) % SLOT
    evicted = evicted + 1
  end
end
if own then redis.call('zadd', KEYS[2], own[2], own[1]) end
-- The index and its total live as long as their youngest entry.
redis.call('set', KEYS[3], string.format('%.0f', bytes), 'EX', ttl)
redis.call('expire', KEYS[2], ttl)
return {stored, evicted, expired, string.format('%.0f', bytes)}`;

/**
 * Fastest deflate with a small window: a 5,000-character document in about 90 µs of CPU (the
 * default level took 160 and zlib's thread pool 2.7 times the CPU of the same work done
 * synchronously), 3.6% larger than the default level; half the size of the text.
 */
const DEFLATE = { level: 1, windowBits: 12 };

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfResponseCachePut(...args: (string | number | Buffer)[]): Result<[number, number, number, string], Context>;
  }
}

export class ResponseStore {
  readonly #keys: ReturnType<typeof responseCacheKeys>;

  constructor(readonly options: ResponseStoreOptions) {
    if (!Number.isInteger(options.ttlS) || options.ttlS < 1) throw new RangeError(`ResponseStore: ttlS must be an integer >= 1, got ${options.ttlS}`);
    if (!Number.isInteger(options.maxBytes) || options.maxBytes < 0) throw new RangeError(`ResponseStore: maxBytes must be an integer >= 0, got ${options.maxBytes}`);
    this.#keys = responseCacheKeys(options.prefix);
    if (typeof (options.redis as Partial<Redis>).sdfResponseCachePut !== 'function') {
      options.redis.defineCommand('sdfResponseCachePut', { lua: PUT, numberOfKeys: 3 });
    }
  }

  /**
   * The largest charge one entry may have: an eighth of the bound (one answer never empties the
   * cache), and below the score's slot.
   */
  get maxEntryBytes(): number {
    return Math.min(SLOT - 1, Math.floor(this.options.maxBytes / 8));
  }

  /** The stored answer, or undefined (never stored, expired, evicted, or unreadable). */
  async get(key: string): Promise<StoredAnswer | undefined> {
    const raw = await this.options.redis.getBuffer(this.#keys.entries + key);
    if (!raw) return undefined;
    try {
      return JSON.parse(inflateRawSync(raw).toString('utf8')) as StoredAnswer;
    } catch {
      return undefined;
    }
  }

  /** Stores an answer once (a key already present is left as it is), then evicts down to the bound. */
  async put(key: string, answer: StoredAnswer): Promise<PutResult> {
    const value = deflateRawSync(JSON.stringify(answer), DEFLATE);
    const entry = this.#keys.entries + key;
    const charge = value.length + entry.length + key.length + ENTRY_OVERHEAD_BYTES;
    if (charge > this.maxEntryBytes) return { outcome: 'too-large', evicted: 0, expired: 0 };
    const [stored, evicted, expired, bytes] = await this.options.redis.sdfResponseCachePut(
      entry,
      this.#keys.index,
      this.#keys.bytes,
      value,
      key,
      charge,
      this.options.ttlS,
      this.options.maxBytes,
      this.#keys.entries,
    );
    return { outcome: stored === 1 ? 'stored' : 'present', evicted, expired, bytes: Number(bytes) };
  }

  /** Bytes charged for the entries now in the index (0 when empty). */
  async bytes(): Promise<number> {
    return Number((await this.options.redis.get(this.#keys.bytes)) ?? 0);
  }
}
