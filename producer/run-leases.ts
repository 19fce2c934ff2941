import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis, Result } from 'ioredis';
import { farmKeys, runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';

/** KEYS: owner, meta. ARGV: owner id, ttl. → the token `<ownerId>:<epoch>`, or nil when another producer owns the run. */
const ACQUIRE = `
if redis.call('exists', KEYS[1]) == 1 then return nil end
local token = ARGV[1] .. ':' .. redis.call('hincrby', KEYS[2], 'ownerEpoch', 1)
redis.call('set', KEYS[1], token, 'PX', ARGV[2])
return token`;

/** KEYS: owner keys… ARGV: ttl, tokens… → per key 1 renewed or 0 lost. */
const RENEW = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[i + 1] then redis.call('pexpire', key, ARGV[1]); out[i] = 1 else out[i] = 0 end
end
return out`;

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfLeaseAcquire(owner: string, meta: string, ownerId: string, ttl: number): Result<string | null, Context>;
    sdfLeaseRenew(...args: (string | number)[]): Result<number[], Context>;
    sdfLeaseRelease(owner: string, token: string): Result<number, Context>;
  }
}

export interface RunLeasesOptions {
  redis: Redis;
  prefix: string;
  /** A lease lasts this long without renewal; a live owner renews it every third of it. @defaultValue 15000 */
  ttlMs?: number;
  logger: Logger;
  /** Told at once when a run's lease is found lost (taken or expired): stop writing it. */
  onLost: (runId: string) => void;
}

interface Held {
  token: string;
  /** performance.now() before which the lease is certainly still ours. */
  validUntil: number;
}

/**
 * Each run has one owner among the `serve` processes: the holder of its lease, a key with a TTL
 * whose value is a fencing token (`<ownerId>:<epoch>`, the epoch bumped at every acquisition).
 * Every ledger write of the run checks the token, so a producer that was paused past its lease
 * cannot write after a new owner took over, even once. Leases are renewed on their own timer,
 * never behind drive work, and locally a lease counts as valid only until the time the last
 * renewal was sent plus the TTL, so an owner stops itself before another can start.
 */
export class RunLeases {
  readonly ownerId = `${process.pid.toString(36)}-${randomBytes(4).toString('hex')}`;
  readonly ttlMs: number;
  readonly #options: RunLeasesOptions;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  constructor(options: RunLeasesOptions) {
    this.#options = options;
    this.ttlMs = options.ttlMs ?? 15_000;
    const { redis } = options;
    if (typeof (redis as Partial<Redis>).sdfLeaseAcquire !== 'function') {
      redis.defineCommand('sdfLeaseAcquire', { lua: ACQUIRE, numberOfKeys: 2 });
      redis.defineCommand('sdfLeaseRenew', { lua: RENEW });
      redis.defineCommand('sdfLeaseRelease', { lua: RELEASE, numberOfKeys: 1 });
    }
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
  }

  get held(): string[] {
    return [...this.#held.keys()];
  }

  /** The run's fencing token while its lease is certainly ours; undefined otherwise. */
  token(runId: string): string | undefined {
    const held = this.#held.get(runId);
    if (!held) return undefined;
    if (performance.now() < held.validUntil) return held.token;
    this.#lose(runId, 'lease not renewed in time');
    return undefined;
  }

  async acquire(runId: string): Promise<string | undefined> {
    if (this.#held.has(runId)) return this.token(runId);
    const sentAt = performance.now();
    const k = runKeys(this.#options.prefix, runId);
    const token = await this.#options.redis.sdfLeaseAcquire(k.owner, k.meta, this.ownerId, this.ttlMs);
    if (!token) return undefined;
    this.#held.set(runId, { token, validUntil: sentAt + this.ttlMs });
    return token;
  }

  /** Renews every held lease in one call, and this producer's heartbeat. Never throws. */
  renew(): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renew(): Promise<void> {
    const { redis, prefix, logger } = this.#options;
    const runIds = [...this.#held.keys()];
    const sentAt = performance.now();
    try {
      await redis.zadd(farmKeys(prefix).producers, Date.now() + this.ttlMs, this.ownerId);
      if (runIds.length === 0) return;
      const tokens = runIds.map((id) => this.#held.get(id)!.token);
      const renewed = await redis.sdfLeaseRenew(runIds.length, ...runIds.map((id) => runKeys(prefix, id).owner), this.ttlMs, ...tokens);
      runIds.forEach((runId, i) => {
        const held = this.#held.get(runId);
        if (!held || held.token !== tokens[i]) return;
        if (renewed[i] === 1) held.validUntil = sentAt + this.ttlMs;
        else this.#lose(runId, 'lease taken or expired');
      });
    } catch (err) {
      logger.error({ err }, 'renewing run leases failed');
    }
  }

  /** Producers alive now (their heartbeat has not expired), this one included. */
  async liveProducers(): Promise<number> {
    const key = farmKeys(this.#options.prefix).producers;
    await this.#options.redis.zremrangebyscore(key, '-inf', Date.now());
    return Math.max(1, await this.#options.redis.zcard(key));
  }

  /** Stops owning the run: forgets it at once, then deletes the lease if it is still ours. */
  async release(runId: string): Promise<void> {
    const held = this.#held.get(runId);
    if (!held) return;
    this.#held.delete(runId);
    await this.#options.redis.sdfLeaseRelease(runKeys(this.#options.prefix, runId).owner, held.token);
  }

  /** Called when a write was refused by the fence: the lease is gone whatever the timer thinks. */
  lost(runId: string): void {
    this.#lose(runId, 'write refused by the fencing token');
  }

  #lose(runId: string, why: string): void {
    if (!this.#held.delete(runId)) return;
    this.#options.logger.warn({ runId, why }, 'lost ownership of run');
    this.#options.onLost(runId);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
    for (const runId of [...this.#held.keys()]) await this.release(runId).catch(() => {});
    await this.#options.redis.zrem(farmKeys(this.#options.prefix).producers, this.ownerId).catch(() => 0);
  }
}
