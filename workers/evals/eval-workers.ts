import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { EVAL_QUEUES, type EvalQueueName, type EvalTaskData } from '../../core/evals/eval-queues.js';
import { toError } from '../../core/errors.js';
import { classifyGeminiError } from '../../core/gemini/classify-error.js';
import type { Logger } from '../../core/logger.js';
import { farmQueueOptions } from '../../core/queues.js';
import { createEvalProcessor, type EvalTaskDeps } from './eval-tasks.js';

export interface EvalWorkersOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Tasks each eval queue runs at once in this process. @defaultValue 16 */
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
  logger: Logger;
}

/**
 * The eval queues' workers: plain BullMQ workers (evals are small next to runs, so they are not
 * in the stage scheduler's WORKER_CONCURRENCY budget; each queue runs up to `concurrency` tasks).
 * A task that gives up (its last attempt, or an error a retry cannot fix) leaves its error in the
 * eval's `failed` hash, so the owner counts it instead of waiting for it.
 */
export function createEvalWorkers(deps: EvalTaskDeps, options: EvalWorkersOptions): Worker<EvalTaskData>[] {
  const process = createEvalProcessor(deps);
  return EVAL_QUEUES.map((queue: EvalQueueName) => {
    const worker = new Worker<EvalTaskData>(
      queue,
      async (job: Job<EvalTaskData>, token?: string) => {
        try {
          return await process(queue, job, token);
        } catch (caught) {
          if (caught instanceof DelayedError) throw caught;
          const err = toError(caught);
          const fatal = classifyGeminiError(caught).kind === 'fatal';
          if (fatal || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
            await deps.store.putOnce(deps.store.keys(job.data.evalId).failed, `${queue}:${job.data.task}`, { error: err.message, attempts: job.attemptsMade + 1 });
            options.logger.warn({ evalId: job.data.evalId, queue, task: job.data.task, err }, 'eval task gave up');
          }
          if (fatal) throw new UnrecoverableError(err.message);
          throw err;
        }
      },
      {
        ...farmQueueOptions(options.connection, options.prefix),
        name: `${hostname()}:${globalThis.process.pid}`,
        concurrency: options.concurrency ?? 16,
        lockDuration: options.lockDuration ?? 60_000,
        stalledInterval: options.stalledInterval ?? 30_000,
        maxStalledCount: options.maxStalledCount ?? 2,
      },
    );
    worker.on('error', (err) => options.logger.error({ err, queue }, 'eval worker error'));
    return worker;
  });
}
