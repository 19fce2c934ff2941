import { hostname } from 'node:os';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from '../core/logger.js';
import { STAGES, type Stage } from '../core/stages.js';
import type { TaskData } from '../core/task.js';

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
  logger: Logger;
}

/** One BullMQ worker per stage queue, all running the same processor. */
export function createStageWorkers(processor: (job: Job<TaskData>) => Promise<string>, options: StageWorkersOptions): Worker<TaskData>[] {
  return (options.stages ?? STAGES).map((stage) => {
    const worker = new Worker<TaskData>(stage, processor, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      // Recorded on each job as processedBy: which process ran it.
      name: `${hostname()}:${process.pid}`,
      lockDuration: options.lockDuration ?? 60_000,
      stalledInterval: options.stalledInterval ?? 30_000,
      // A task whose worker died is retried; twice more stalls means it kills workers, so stop.
      maxStalledCount: 2,
    });
    worker.on('error', (err) => options.logger.error({ err, stage }, 'stage worker error'));
    return worker;
  });
}
