import { Redis } from 'ioredis';

/** A connection suitable for BullMQ too (it requires `maxRetriesPerRequest: null`). */
export function createRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

/**
 * Whether a Redis answers at `url` within `timeoutMs`; never throws. The whole probe is bounded,
 * not just the connect: a Redis that accepts connections but does not answer (stopped, swapping,
 * a dead host behind a live proxy) counts as not answering.
 */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  probe.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
  try {
    const answered = (async () => {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    })();
    return await Promise.race([answered.catch(() => false), timedOut]);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/** Deletes every key under `prefix` (SCAN + UNLINK, never KEYS): a farm's, a test's or a benchmark's. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
