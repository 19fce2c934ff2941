import { Queue, type ConnectionOptions } from 'bullmq';
import { STAGES, type Stage } from './stages.js';

/** Workers hand every task's outcome to the producer through this queue. */
export const RESULTS_QUEUE = 'results';

/** Pattern-audit tasks (the LLM scan → cluster → autorate passes over a sample of a run's output). */
export const AUDIT_QUEUE = 'audit';

export interface AuditTaskData {
  runId: string;
  kind: 'document' | 'chat';
  samples: { id: string; text: string }[];
}

export type StageQueues = Record<Stage, Queue>;

export function createStageQueues(connection: ConnectionOptions, prefix: string): StageQueues {
  return Object.fromEntries(STAGES.map((stage) => [stage, new Queue(stage, { connection, prefix })])) as StageQueues;
}

export function createResultsQueue(connection: ConnectionOptions, prefix: string): Queue {
  return new Queue(RESULTS_QUEUE, { connection, prefix });
}

/** Job options every task gets: retries with backoff, bounded history so Redis stays small. */
export function taskJobOptions(attempts: number) {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { count: 1000 },
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
