import type { StageQueues } from '../queues.js';
import type { RunStore } from './run-store.js';

/**
 * Cancels a run: its state turns `cancelled` at once (workers skip its tasks, the run's owner drops
 * its results), then its waiting tasks are removed so they cost nothing.
 */
export async function cancelRun(runs: RunStore, queues: StageQueues, runId: string): Promise<boolean> {
  const moved = await runs.finish(runId, 'cancelled');
  if (!moved) return false;
  for (const queue of Object.values(queues)) {
    const waiting = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'paused'], 0, 10_000);
    await Promise.allSettled(waiting.filter((job) => job?.data?.runId === runId).map((job) => job.remove()));
  }
  return true;
}
