import type { ModelLimits } from '../core/limiter/model-limits.js';
import type { FarmMetrics } from '../core/metrics.js';

/** What the worker needs of the farm-wide limiter (core/limiter); structural, so tests can pass their own. */
export interface QuotaLimiter {
  tryAcquire(
    model: string,
    estimatedInputTokens: number,
    limits?: ModelLimits,
  ): Promise<{ ok: true; factor: number; reservation: { settle(actualInputTokens: number): Promise<unknown> | unknown } } | { ok: false; retryInMs: number; reason: string }>;
  pause(model: string, ms: number, reason: string): Promise<unknown>;
  reportRateLimited(model: string): Promise<unknown>;
  reportSuccess(model: string): Promise<unknown>;
}

/** How long a model is paused after a 429 that says nothing of when to come back. */
const DEFAULT_429_PAUSE_MS = 5000;

/**
 * A 429 from the provider: pauses the model farm-wide for as long as it asked (or 5 s) and lowers
 * its adaptive rate. Returns the pause, which the caller waits out in its own way.
 */
export async function pauseAfterRateLimit(limiter: QuotaLimiter | undefined, model: string, rateLimited: { retryAfterMs?: number; perDay?: boolean }): Promise<number> {
  const pauseMs = rateLimited.retryAfterMs ?? DEFAULT_429_PAUSE_MS;
  await limiter?.pause(model, pauseMs, rateLimited.perDay ? 'rpd' : '429');
  await limiter?.reportRateLimited(model);
  return pauseMs;
}

/**
 * The quota is not there for a while: the task should give its slot back and come back later
 * (the processor moves it to BullMQ's delayed set without spending an attempt).
 */
export class QuotaWait extends Error {
  override name = 'QuotaWait';
  constructor(
    readonly model: string,
    readonly retryInMs: number,
    readonly reason: string,
  ) {
    super(`quota for ${model} unavailable (${reason}) for ${Math.ceil(retryInMs / 1000)} s`);
  }
}

export interface QuotaGateOptions {
  /** Waits up to this long in place (timers, no CPU); longer waits become QuotaWait. @defaultValue 3000 */
  maxInlineWaitMs?: number;
  metrics?: FarmMetrics;
}

/** Acquires farm-wide quota before a call: short waits in place, long ones hand the task back. */
export function createQuotaGate(limiter: QuotaLimiter, options: QuotaGateOptions = {}) {
  const maxInline = options.maxInlineWaitMs ?? 3000;
  return {
    async acquire(model: string, estimatedTokens: number, limits?: ModelLimits) {
      if (!limits) return { settle: async () => {} };
      let waitedMs = 0;
      for (;;) {
        const grant = await limiter.tryAcquire(model, estimatedTokens, limits);
        if (grant.ok) {
          if (options.metrics) {
            if (limits.rpm) options.metrics.rateLimitEffectiveRpm.set({ model }, Math.floor(limits.rpm * grant.factor));
            if (limits.tpm) options.metrics.rateLimitEffectiveTpm.set({ model }, Math.floor(limits.tpm * grant.factor));
          }
          if (waitedMs > 0) {
            options.metrics?.rateLimitWaits.inc({ model });
            options.metrics?.rateLimitWaitSeconds.inc({ model }, waitedMs / 1000);
          }
          return { settle: async (actual: number) => void (await grant.reservation.settle(actual)) };
        }
        if (grant.reason === 'rpd' || waitedMs + grant.retryInMs > maxInline) throw new QuotaWait(model, grant.retryInMs, grant.reason);
        // A little jitter so processes released together do not collide again.
        const sleep = Math.max(5, grant.retryInMs) + Math.random() * 20;
        await new Promise((r) => setTimeout(r, sleep));
        waitedMs += sleep;
      }
    },
  };
}
