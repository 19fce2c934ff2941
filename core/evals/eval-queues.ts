import { Queue, type ConnectionOptions } from 'bullmq';
import { farmQueueOptions } from '../queues.js';

/**
 * An eval's three queues, beside the run stages (not stages: a run never has these tasks): probes
 * are written, answered by each target model, then judged. Each task's result is set once in the
 * eval's hashes; the eval's owner adds the tasks, workers run them.
 */
export const EVAL_QUEUES = ['eval-probes', 'eval-answers', 'eval-judge'] as const;
export type EvalQueueName = (typeof EVAL_QUEUES)[number];
export type EvalQueues = Record<EvalQueueName, Queue<EvalTaskData>>;

/** A task: the eval and the task's id in it (a probe task id, or `<probe id>|<model index>`). */
export interface EvalTaskData {
  evalId: string;
  task: string;
}

export function createEvalQueues(connection: ConnectionOptions, prefix: string): EvalQueues {
  return Object.fromEntries(EVAL_QUEUES.map((name) => [name, new Queue<EvalTaskData>(name, farmQueueOptions(connection, prefix))])) as EvalQueues;
}

/** Stable across retries and re-adds: adding a task twice while its job exists is a no-op. */
export function evalJobId(evalId: string, queue: EvalQueueName, task: string): string {
  // BullMQ job ids may not contain ':'; probe and answer ids never do.
  return `${evalId}.${queue}.${task}`;
}

export function evalJobOptions(attempts: number) {
  return { attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { count: 1000 } } as const;
}
