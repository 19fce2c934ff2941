import { Queue, type ConnectionOptions } from 'bullmq';
import { STAGES, type Stage } from './stages.js';

/** Pattern-audit tasks (the LLM scan → cluster → autorate passes over a sample of a run's output). */
export const AUDIT_QUEUE = 'audit';

export interface AuditTaskData {
  runId: string;
  kind: 'document' | 'chat';
  samples: { id: string; text: string }[];
}

export type StageQueues = Record<Stage, Queue>;

/**
 * Options every farm queue and worker shares. BullMQ's per-queue event stream is capped low: the
 * farm does not read it, and its default cap (10,000 events per queue) is Redis memory for nothing.
 */
export function farmQueueOptions(connection: ConnectionOptions, prefix: string) {
  return { connection, prefix, streams: { events: { maxLen: 100 } } };
}

export function createStageQueues(connection: ConnectionOptions, prefix: string): StageQueues {
  return Object.fromEntries(STAGES.map((stage) => [stage, new Queue(stage, farmQueueOptions(connection, prefix))])) as StageQueues;
}

/**
 * Job options every task gets: retries with backoff. A completed job is removed at once (its
 * result is in the run's results stream by then), so Redis holds no history that grows with
 * runs; a failed one is kept (at most 1,000 per queue) until the run's reconciler has seen it.
 */
export function taskJobOptions(attempts: number) {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: { count: 1000 },
  } as const;
}

/** BullMQ job id of a task: stable across retries and re-adds, so a re-add is a no-op while it exists. */
export function taskJobId(runId: string, stage: Stage, index: number, generation = 0): string {
  return generation === 0 ? `${runId}.${stage}.${index}` : `${runId}.${stage}.${index}.r${generation}`;
}

export async function closeQueues(queues: Iterable<Queue>): Promise<void> {
  await Promise.allSettled([...queues].map((q) => q.close()));
}
