import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { apiRateKeys } from '../../core/keys.js';
import { OPERATOR_LIMIT_DEFAULTS } from '../../core/spec/operator-limits.js';

/** Probes and scrapes must never be refused for being frequent. */
const EXEMPT_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Who a request counts against: its bearer token, by the token's SHA-256 (the raw token is never
 * a Redis key), else its client IP. Auth runs first (a global onRequest hook; this one is per
 * route), so with auth on only known tokens get a counter of their own.
 */
export function rateLimitKey(request: FastifyRequest): string {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('Bearer ') && header.length > 7) return `token:${createHash('sha256').update(header.slice(7)).digest('hex')}`;
  return `ip:${request.ip}`;
}

/**
 * SDF_API_RATE_LIMIT requests per minute per token (or IP), counted in Redis so every `serve`
 * behind a load balancer shares the count. Beyond it: 429, `Retry-After` in seconds and a JSON
 * `{error}`. A Redis error lets the request through (readiness reports Redis, not this).
 */
export const apiRateLimitPlugin = fp(
  async (app) => {
    const max = app.farm.apiRateLimit ?? OPERATOR_LIMIT_DEFAULTS.apiRateLimit;
    if (max <= 0) return;
    await app.register(rateLimit, {
      max,
      timeWindow: 60_000,
      redis: app.farm.redis,
      nameSpace: apiRateKeys(app.farm.prefix).counters,
      skipOnError: true,
      keyGenerator: rateLimitKey,
      allowList: (request) => EXEMPT_PATHS.has(request.url.split('?')[0] ?? ''),
      errorResponseBuilder: (_request, context) =>
        Object.assign(new Error(`rate limit exceeded: at most ${context.max} requests a minute per token (SDF_API_RATE_LIMIT); retry in ${context.after}`), { statusCode: context.statusCode }),
    });
  },
  { name: 'api-rate-limit', dependencies: ['farm-services'] },
);
