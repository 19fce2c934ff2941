import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { deleteKeys } from '../../core/redis.js';

export const TEST_REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A prefix no other test uses, so tests can run in parallel against one Redis. */
export function uniquePrefix(label = 't'): string {
  return `sdftest-${label}-${randomBytes(4).toString('hex')}`;
}

/** A Redis connection and a unique prefix whose keys are removed when the test ends. */
export async function testRedis(t: Test, label?: string): Promise<{ redis: Redis; prefix: string }> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = uniquePrefix(label);
  t.teardown(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });
  return { redis, prefix };
}
