import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Returns a run's parked tasks: the jobs workers moved to BullMQ's delayed set while the run's
 * budget was spent (and its pattern audits, parked the same way) are promoted, so they run now
 * instead of when their park ends. Job ids start with the run id, so they are found from the
 * delayed sets' members alone; a job that stopped being delayed meanwhile (it ran, or was
 * removed) is passed over. Returns how many were promoted.
 */
export async function returnParkedTasks(redis: Redis, queues: readonly Queue[], runId: string): Promise<number> {
  const mark = `${runId}.`;
  let returned = 0;
  for (const queue of queues) {
    const ids = (await redis.zrange(queue.toKey('delayed'), 0, -1)).filter((id) => id.startsWith(mark));
    for (const id of ids) {
      const job = await Job.fromId(queue, id);
      try {
        await job?.promote();
        if (job) returned++;
      } catch {
        // No longer delayed: it is running or done, which is what returning it was for.
      }
    }
  }
  return returned;
}
