import type { Redis } from 'ioredis';
import { runKeys } from '../keys.js';

/**
 * A finished run's Redis state has two parts. Its record (metadata, counters, committed file
 * lengths, pattern reports, the withheld list, its budget) is small, fixed per run and needed to list, report
 * and export it. Its working state (done bits, cursors, the results stream, dead letters,
 * corpus statistics and the near-duplicate index) is what grows with the run; it expires
 * `seconds` after the run ends (0: at once). Outputs on disk are not touched.
 */
export function recordKeys(prefix: string, runId: string): Set<string> {
  const k = runKeys(prefix, runId);
  return new Set([k.meta, k.stats, k.offsets, k.patterns('document'), k.patterns('chat'), k.withheld('document'), k.withheld('chat'), k.budget]);
}

/** Every key of a run (SCAN, never KEYS), its record included. */
export async function runKeysInRedis(redis: Redis, prefix: string, runId: string): Promise<string[]> {
  const meta = runKeys(prefix, runId).meta;
  const found = [meta];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${meta}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

export async function expireWorkingState(redis: Redis, prefix: string, runId: string, seconds: number): Promise<number> {
  const keep = recordKeys(prefix, runId);
  const working = (await runKeysInRedis(redis, prefix, runId)).filter((key) => !keep.has(key));
  if (working.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const key of working) {
    if (seconds === 0) pipeline.unlink(key);
    else pipeline.expire(key, seconds);
  }
  await pipeline.exec();
  return working.length;
}
