import { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { taskJobId } from '../core/queues.js';
import type { RunLedger } from '../core/runs/run-ledger.js';
import { publishResult } from '../core/runs/run-results.js';
import type { Stage } from '../core/stages.js';
import { ZERO_USAGE, taskId } from '../core/task.js';
import type { Expander } from './expander.js';
import type { RunPlan } from './expansion-plan.js';

/** A task is alive while its job is in one of these states. */
const LIVE = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused']);

/** Most undone tasks looked at per stage per pass (a run has about a window of them). */
const LIMIT = 5000;

export interface ReconcilerDeps {
  redis: Redis;
  prefix: string;
  ledger: RunLedger;
  expander: Expander;
  metrics: FarmMetrics | undefined;
  logger: Logger;
  runId: string;
  plan: RunPlan;
}

/**
 * Compares a run's ledger with what BullMQ holds and repairs what disagrees. Every task below a
 * stage's `enqueued` count whose done bit is clear must have a live job; otherwise:
 * - its job failed without a result reaching the ledger (a stall-limit failure, a result publish
 *   that failed on the last attempt): the task is dead-lettered with the job's error;
 * - its job is gone or completed and no result came, on two passes in a row (a result in the
 *   stream between the two would have been committed): the task is enqueued again under a new
 *   job id, its input re-derived from the item files. A duplicate result is harmless (done bits).
 * Each repair is logged and counted in `sdf_reconciler_repairs_total`.
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;
  /** Tasks without a live job at the last pass: `<stage>:<index>` → job id. */
  #suspects = new Map<string, string>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(): Promise<{ deadLettered: number; requeued: number }> {
    const { redis, prefix, ledger, runId, plan, logger } = this.#deps;
    const queues = this.#deps.expander.options.queues;
    const enqueued = await redis.hmget(runKeys(prefix, runId).stats, ...plan.stages.map((s) => `${s}:enqueued`));
    const suspects = new Map<string, string>();
    const lost: { stage: Stage; index: number }[] = [];
    let deadLettered = 0;
    for (const [i, stage] of plan.stages.entries()) {
      const indices = await ledger.undone(runId, stage, 0, Number(enqueued[i] ?? 0), LIMIT);
      if (indices.length === 0) continue;
      const generations = await ledger.generations(runId, stage, indices);
      const jobIds = indices.map((index, j) => taskJobId(runId, stage, index, generations[j]));
      const states = await inChunks(jobIds, (id) => queues[stage].getJobState(id));
      for (const [j, state] of states.entries()) {
        if (LIVE.has(state)) continue;
        const index = indices[j]!;
        const jobId = jobIds[j]!;
        if (state === 'failed') {
          const job = await Job.fromId(queues[stage], jobId);
          await publishResult(redis, prefix, {
            runId,
            stage,
            index,
            id: taskId(stage, index),
            outcome: 'failed',
            model: 'unknown',
            usage: ZERO_USAGE,
            attempts: job?.attemptsMade ?? 0,
            error: `job failed without a result: ${job?.failedReason ?? 'unknown reason'}`.slice(0, 2000),
            input: (job?.data as { input?: object } | undefined)?.input ?? {},
          });
          await job?.remove().catch(() => {});
          this.#repaired('failed-job', { stage, index, jobId, reason: job?.failedReason });
          deadLettered++;
          continue;
        }
        const key = `${stage}:${index}`;
        suspects.set(key, jobId);
        if (this.#suspects.get(key) === jobId) lost.push({ stage, index });
      }
    }
    this.#suspects = suspects;
    const requeued = await this.#requeue(lost);
    if (deadLettered + requeued > 0) logger.warn({ runId, deadLettered, requeued }, 'reconciler repaired the run');
    return { deadLettered, requeued };
  }

  async #requeue(lost: { stage: Stage; index: number }[]): Promise<number> {
    const { runId, plan, ledger, expander, redis, prefix } = this.#deps;
    let requeued = 0;
    for (const stage of new Set(lost.map((t) => t.stage))) {
      const indices = lost.filter((t) => t.stage === stage).map((t) => t.index);
      const inputs = await expander.inputsOf(runId, plan, stage, indices);
      for (const index of indices) {
        const input = inputs.get(index);
        if (!input) {
          await publishResult(redis, prefix, { runId, stage, index, id: taskId(stage, index), outcome: 'failed', model: 'unknown', usage: ZERO_USAGE, attempts: 0, error: 'task lost and its input could not be found again in the item files', input: {} });
          this.#repaired('failed-job', { stage, index, reason: 'input not found' });
          continue;
        }
        const generation = await ledger.nextGeneration(runId, stage, index);
        await expander.enqueueAgain([{ runId, stage, index, input, generation }]);
        this.#suspects.delete(`${stage}:${index}`);
        this.#repaired('lost-task', { stage, index, generation });
        requeued++;
      }
    }
    return requeued;
  }

  #repaired(kind: 'failed-job' | 'lost-task', detail: Record<string, unknown>): void {
    this.#deps.metrics?.reconcilerRepairs.inc({ kind });
    this.#deps.logger.warn({ runId: this.#deps.runId, kind, ...detail }, 'reconciler repaired a task');
  }
}

async function inChunks<T, R>(items: T[], fn: (item: T) => Promise<R>, size = 200): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}
