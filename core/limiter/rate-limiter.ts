import type { Redis } from 'ioredis';
import { limiterKeys } from '../keys.js';
import type { ModelLimits } from './model-limits.js';
import { PACIFIC_DAY_LUA } from './pacific-day.js';

/**
 * Sliding-window log per model: every granted request is exactly one member of a sorted set
 * (`<grant id>:<tokens>`) scored by its time; a request is granted only if, counting it, the last
 * `window` ms hold at most rpm requests and tpm tokens, and today's count is under rpd. One Lua
 * script checks and records, so any number of processes share the quota without races. The window
 * is a little longer than a minute (`windowMs`) so network jitter between here and the provider
 * cannot push two windows' worth into one of the provider's minutes.
 *
 * Time is Redis's own clock (TIME), so processes on hosts with skewed clocks agree; tests may
 * pass `now`. The day of the RPD count is the Pacific date on that clock: Gemini's daily quotas
 * reset at midnight Pacific time. KEYS: log, tokens-sum, day-counts, pause, adapt   ARGV: now|'',
 * window, rpm, tpm, rpd, tokens, grant id. Returns {granted(1/0), retryMs, reason, factor, now}.
 */
const ACQUIRE = `${PACIFIC_DAY_LUA}
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('time')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local rpd = tonumber(ARGV[5])
local tokens = tonumber(ARGV[6])
local factor = tonumber(redis.call('hget', KEYS[5], 'factor') or '1')

local paused = redis.call('pttl', KEYS[4])
if paused > 0 then return {0, paused, 'paused', tostring(factor), now} end

local expired = redis.call('zrangebyscore', KEYS[1], '-inf', now - window)
if #expired > 0 then
  local freed = 0
  for _, member in ipairs(expired) do
    freed = freed + tonumber(string.match(member, ':(-?%d+)$'))
  end
  redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
  redis.call('decrby', KEYS[2], freed)
end

local day, untilMidnight
if rpd > 0 then
  day, untilMidnight = pacificDay(now)
  local today = tonumber(redis.call('hget', KEYS[3], day) or '0')
  if today >= rpd then return {0, untilMidnight, 'rpd', tostring(factor), now} end
end

local effRpm = rpm > 0 and math.max(1, math.floor(rpm * factor)) or 0
local effTpm = tpm > 0 and math.max(1, math.floor(tpm * factor)) or 0
if effRpm > 0 then
  local count = redis.call('zcard', KEYS[1])
  if count >= effRpm then
    local oldest = redis.call('zrange', KEYS[1], count - effRpm, count - effRpm, 'WITHSCORES')
    return {0, math.max(1, tonumber(oldest[2]) + window - now), 'rpm', tostring(factor), now}
  end
end
if effTpm > 0 then
  local used = tonumber(redis.call('get', KEYS[2]) or '0')
  -- A call estimated above the whole TPM could never fit: it goes alone, into an empty window
  -- (after 429s lowered the factor, or on a bad estimate; the provider has the last word).
  if used + tokens > effTpm and not (used <= 0 and tokens > effTpm) then
    if tokens > effTpm then tokens = effTpm end
    local members = redis.call('zrange', KEYS[1], 0, -1, 'WITHSCORES')
    local freed = 0
    for i = 1, #members, 2 do
      freed = freed + tonumber(string.match(members[i], ':(-?%d+)$'))
      if used - freed + tokens <= effTpm then
        return {0, math.max(1, tonumber(members[i + 1]) + window - now), 'tpm', tostring(factor), now}
      end
    end
    return {0, window, 'tpm', tostring(factor), now}
  end
end

redis.call('zadd', KEYS[1], now, ARGV[7] .. ':' .. tokens)
redis.call('incrby', KEYS[2], tokens)
redis.call('pexpire', KEYS[1], window * 2)
redis.call('pexpire', KEYS[2], window * 2)
if rpd > 0 then
  if redis.call('hincrby', KEYS[3], day, 1) == 1 then
    -- The first grant of a new Pacific day: the other days' counts are over.
    for _, other in ipairs(redis.call('hkeys', KEYS[3])) do
      if other ~= day then redis.call('hdel', KEYS[3], other) end
    end
  end
  redis.call('pexpire', KEYS[3], untilMidnight + 3600000)
end
return {1, 0, 'ok', tostring(factor), now}
`;

/**
 * Corrects a grant's tokens once the real count is known by rewriting the grant's own member
 * (`<id>:<estimate>` → `<id>:<actual>`, same score): the log still holds one member per request,
 * so RPM counts requests only, and the correction leaves the window with its grant. A grant
 * already gone from the log has had its tokens freed; there is nothing left to correct.
 * KEYS: log, tokens-sum   ARGV: grant id, estimated tokens, actual tokens.
 */
const SETTLE = `
if ARGV[2] == ARGV[3] then return 0 end
local score = redis.call('zscore', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
if not score then return 0 end
redis.call('zrem', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
redis.call('zadd', KEYS[1], score, ARGV[1] .. ':' .. ARGV[3])
redis.call('incrby', KEYS[2], tonumber(ARGV[3]) - tonumber(ARGV[2]))
return 1
`;

/** 429: slow down to 80% (floor 10%). Success: after 50 in a row, speed back up 10% toward the configured rate. */
const ADAPT = `
local factor = tonumber(redis.call('hget', KEYS[1], 'factor') or '1')
if ARGV[1] == 'limited' then
  factor = math.max(0.1, factor * 0.8)
  redis.call('hset', KEYS[1], 'factor', tostring(factor), 'streak', 0)
elseif factor < 1 then
  local streak = redis.call('hincrby', KEYS[1], 'streak', 1)
  if streak >= 50 then
    factor = math.min(1, factor * 1.1)
    redis.call('hset', KEYS[1], 'factor', tostring(factor), 'streak', 0)
  end
end
redis.call('expire', KEYS[1], 86400)
return tostring(factor)
`;

/** Pauses unless a longer pause is already set; one script, so two workers' 429s cannot shorten each other's pause. */
const PAUSE = `
if redis.call('pttl', KEYS[1]) < tonumber(ARGV[2]) then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`;

/**
 * The scripts as ioredis commands: sent once per connection, then called by SHA (EVALSHA), so
 * the script text does not travel with every call. ioredis reloads a script Redis has forgotten.
 */
const COMMANDS = {
  sdfLimiterAcquire: { numberOfKeys: 5, lua: ACQUIRE },
  sdfLimiterSettle: { numberOfKeys: 2, lua: SETTLE },
  sdfLimiterAdapt: { numberOfKeys: 1, lua: ADAPT },
  sdfLimiterPause: { numberOfKeys: 1, lua: PAUSE },
} as const;

type Arg = string | number;
interface LimiterCommands {
  sdfLimiterAcquire(...args: Arg[]): Promise<[number, number, string, string, number]>;
  sdfLimiterSettle(...args: Arg[]): Promise<number>;
  sdfLimiterAdapt(...args: Arg[]): Promise<string>;
  sdfLimiterPause(...args: Arg[]): Promise<number>;
}

export interface Reservation {
  /** Records the real input tokens of the granted call. */
  settle(actualInputTokens: number): Promise<void>;
}

export type Grant =
  | { ok: true; reservation: Reservation; factor: number; /** Redis time of the grant. */ grantedAt: number }
  | { ok: false; retryInMs: number; reason: 'rpm' | 'tpm' | 'rpd' | 'paused'; factor: number };

export interface RateLimiterOptions {
  redis: Redis;
  prefix: string;
  /** Default limits of a model (undefined = unlimited) when a call brings none. @defaultValue none */
  limitsFor?: (model: string) => ModelLimits | undefined;
  /** @defaultValue 61000: a minute plus a second of margin for network jitter */
  windowMs?: number;
  /** A clock for tests; by default Redis's TIME. */
  now?: () => number;
}

let sequence = 0;

/** Farm-wide RPM/TPM/RPD quotas per model, shared by every worker through Redis. */
export class RateLimiter {
  readonly #redis: Redis & LimiterCommands;
  readonly #prefix: string;
  readonly #limitsFor: (model: string) => ModelLimits | undefined;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #injectedClock: boolean;
  readonly #id = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  /** The adaptive factor Redis last told this process, per model (every grant carries it). */
  readonly #factors = new Map<string, number>();

  constructor(options: RateLimiterOptions) {
    for (const [name, definition] of Object.entries(COMMANDS)) {
      if (!(name in options.redis)) options.redis.defineCommand(name, definition);
    }
    this.#redis = options.redis as Redis & LimiterCommands;
    this.#prefix = options.prefix;
    this.#limitsFor = options.limitsFor ?? (() => undefined);
    this.#windowMs = options.windowMs ?? 61_000;
    this.#now = options.now ?? Date.now;
    this.#injectedClock = Boolean(options.now);
  }

  #keys(model: string) {
    return limiterKeys(this.#prefix, model);
  }

  /** Grants a call now or says how long to wait; `limits` (a run's) wins over `limitsFor`. */
  async tryAcquire(model: string, estimatedInputTokens: number, limits = this.#limitsFor(model)): Promise<Grant> {
    const noop: Reservation = { settle: async () => {} };
    if (!limits) return { ok: true, reservation: noop, factor: 1, grantedAt: this.#now() };
    const k = this.#keys(model);
    const tokens = Math.max(0, Math.round(estimatedInputTokens));
    const id = `${this.#id}.${(sequence++).toString(36)}`;
    const [granted, retryMs, reason, factorText, at] = await this.#redis.sdfLimiterAcquire(
      k.log,
      k.tokens,
      k.day,
      k.pause,
      k.adapt,
      this.#injectedClock ? this.#now() : '',
      this.#windowMs,
      limits.rpm ?? 0,
      limits.tpm ?? 0,
      limits.rpd ?? 0,
      tokens,
      id,
    );
    const factor = Number(factorText);
    this.#factors.set(model, factor);
    if (granted !== 1) return { ok: false, retryInMs: Number(retryMs), reason: reason as 'rpm' | 'tpm' | 'rpd' | 'paused', factor };
    return {
      ok: true,
      factor,
      grantedAt: Number(at),
      reservation: {
        settle: async (actual: number) => {
          const real = Math.max(0, Math.round(actual));
          // Without a TPM limit the token sum is never read; a correction would be a wasted write.
          if (real !== tokens && limits.tpm) await this.#redis.sdfLimiterSettle(k.log, k.tokens, id, tokens, real);
        },
      },
    };
  }

  /** Stops every process from calling `model` for `ms` (e.g. RetryInfo after a 429). Never shortens a longer pause. */
  async pause(model: string, ms: number, reason = '429'): Promise<void> {
    await this.#redis.sdfLimiterPause(this.#keys(model).pause, reason, Math.max(1, Math.ceil(ms)));
  }

  async reportRateLimited(model: string): Promise<number> {
    return this.#adapt(model, 'limited');
  }

  /**
   * Counts a success toward speeding back up. At the full rate (factor 1, as the model's last
   * grant said) a success changes nothing, so no Redis round trip is made: the processor reports
   * one after every call. A factor lowered by another process since then is seen at the next grant.
   */
  async reportSuccess(model: string): Promise<number> {
    if (this.#factors.get(model) === 1) return 1;
    return this.#adapt(model, 'ok');
  }

  async #adapt(model: string, outcome: 'limited' | 'ok'): Promise<number> {
    const factor = Number(await this.#redis.sdfLimiterAdapt(this.#keys(model).adapt, outcome));
    this.#factors.set(model, factor);
    return factor;
  }

  /** Current effective limits (after adaptation) and pause, for metrics and status. */
  async effective(model: string, configured = this.#limitsFor(model)): Promise<{ rpm?: number; tpm?: number; rpd?: number; factor: number; pausedForMs: number }> {
    const limits = configured ?? {};
    const k = this.#keys(model);
    const [factorRaw, paused] = await Promise.all([this.#redis.hget(k.adapt, 'factor'), this.#redis.pttl(k.pause)]);
    const factor = Number(factorRaw ?? 1);
    return {
      ...(limits.rpm ? { rpm: Math.max(1, Math.floor(limits.rpm * factor)) } : {}),
      ...(limits.tpm ? { tpm: Math.max(1, Math.floor(limits.tpm * factor)) } : {}),
      ...(limits.rpd ? { rpd: limits.rpd } : {}),
      factor,
      pausedForMs: Math.max(0, paused),
    };
  }
}
