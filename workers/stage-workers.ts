import { hostname } from 'node:os';
import { Job, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from '../core/logger.js';
import { STAGES, type Stage } from '../core/stages.js';
import { ZERO_USAGE, taskId, type TaskData, type TaskResult } from '../core/task.js';
import { farmQueueOptions } from '../core/queues.js';

export interface StageWorkersOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Tasks run at once per stage queue in this process. */
  concurrency: number;
  /** Which stage queues this process serves. @defaultValue every stage */
  stages?: readonly Stage[];
  /** Longest a task may hold its lock without renewal; BullMQ renews it while the task runs. @defaultValue 60000 */
  lockDuration?: number;
  /** How often to look for tasks whose worker died. @defaultValue 30000 */
  stalledInterval?: number;
  /** Times a task's worker may die under it before BullMQ fails it. @defaultValue 2 */
  maxStalledCount?: number;
  /** Publishes the `failed` result of a task BullMQ gave up on without the processor publishing one. */
  onGaveUp?: (result: TaskResult) => Promise<void>;
  logger: Logger;
}

/** One BullMQ worker per stage queue, all running the same processor. */
export function createStageWorkers(processor: (job: Job<TaskData>, token?: string) => Promise<string>, options: StageWorkersOptions): Worker<TaskData>[] {
  return (options.stages ?? STAGES).map((stage) => {
    const worker = new Worker<TaskData>(stage, processor, {
      ...farmQueueOptions(options.connection, options.prefix),
      concurrency: options.concurrency,
      // Recorded on each job as processedBy: which process ran it.
      name: `${hostname()}:${process.pid}`,
      lockDuration: options.lockDuration ?? 60_000,
      stalledInterval: options.stalledInterval ?? 30_000,
      // A task whose worker died is retried; more stalls than this means it kills workers, so stop.
      maxStalledCount: options.maxStalledCount ?? 2,
    });
    worker.on('error', (err) => options.logger.error({ err, stage }, 'stage worker error'));
    if (options.onGaveUp) {
      const gaveUp = reportGaveUp(options.onGaveUp, options.logger);
      // The processor publishes a result for every outcome it reaches; a job fails in BullMQ only
      // when it could not (its publish failed on the last attempt) or never ran to the end (it
      // stalled more than maxStalledCount times: BullMQ marks it then and fails it, whatever
      // attempts it has left, when a worker next picks it up). Either way the run must hear of it,
      // or it would wait forever. `finishedOn` is set only when the failure is final, not retried.
      worker.on('failed', (job, err) => {
        if (job?.finishedOn) void gaveUp(job, err.message);
      });
    }
    return worker;
  });
}

function reportGaveUp(publish: (result: TaskResult) => Promise<void>, logger: Logger) {
  return async (job: Job<TaskData>, reason: string) => {
    const task = job.data;
    logger.warn({ runId: task.runId, stage: task.stage, taskId: task.index, reason }, 'task failed in BullMQ without a result; dead-lettering it');
    try {
      await publish({
        runId: task.runId,
        stage: task.stage,
        index: task.index,
        id: taskId(task.stage, task.index),
        outcome: 'failed',
        model: 'unknown',
        usage: ZERO_USAGE,
        attempts: job.attemptsMade,
        error: `gave up: ${reason}`.slice(0, 2000),
        input: task.input,
      });
    } catch (err) {
      // The run's reconciler finds the failed job and dead-letters it.
      logger.error({ err, runId: task.runId }, 'reporting a failed task failed');
    }
  };
}
