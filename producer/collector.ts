import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { RESULTS_QUEUE } from '../core/queues.js';
import { runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { RunStore } from '../core/runs/run-store.js';
import type { TaskResult } from '../core/task.js';
import { AppendLog } from './append-log.js';
import type { RunPlan } from './expansion-plan.js';
import { runFilePath, type RunFile } from '../core/runs/run-files.js';

export interface CollectorOptions {
  redis: Redis;
  connection: ConnectionOptions;
  prefix: string;
  dataDir: string;
  runs: RunStore;
  /** The run's fan-out plan (which file each stage's output goes to); the producer keeps them. */
  planFor: (runId: string) => Promise<RunPlan>;
  logger: Logger;
  /** Called after each commit, so the producer can expand the run further. */
  onCommit?: (result: TaskResult) => void;
}

interface OpenRun {
  plan: RunPlan;
  logs: Map<RunFile, AppendLog>;
}

/**
 * Writes each task's result to the run's files exactly once. A result is committed by one Redis
 * transaction (done bit, file lengths, counters); a crash before it leaves the done bit clear and
 * the file is cut back to its committed length on reopen, so the redelivered result is written
 * again, once. A result whose done bit is set is a duplicate and is dropped.
 */
export class Collector {
  readonly #options: CollectorOptions;
  readonly #open = new Map<string, OpenRun>();
  #worker: Worker<TaskResult> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: CollectorOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#worker) return;
    const { connection, prefix, logger } = this.#options;
    // One at a time: results of a run are appended to shared files in commit order.
    this.#worker = new Worker<TaskResult>(RESULTS_QUEUE, (job) => this.commit(job), { connection, prefix, concurrency: 1 });
    this.#worker.on('failed', (job, err) => logger.error({ err, jobId: job?.id }, 'result commit failed; will retry'));
    this.#worker.on('error', (err) => logger.error({ err }, 'collector worker error'));
  }

  async commit(job: Pick<Job<TaskResult>, 'data'>): Promise<'committed' | 'duplicate' | 'dropped'> {
    const result = job.data;
    const { redis, prefix } = this.#options;
    const keys = runKeys(prefix, result.runId);
    const state = await this.#options.runs.state(result.runId);
    if (!state || state === 'cancelled' || state === 'failed') return 'dropped';
    if ((await redis.getbit(keys.done(result.stage), result.index)) === 1) return 'duplicate';

    const run = await this.#openRun(result.runId);
    const writes = this.#route(result, run.plan);
    const before = new Map<RunFile, number>();
    const after: Record<string, number> = {};
    for (const [file, records] of writes) {
      const log = this.#log(run, result.runId, file);
      before.set(file, log.length);
      after[file] = log.append(records);
    }
    try {
      const tx = redis.multi().setbit(keys.done(result.stage), result.index, 1).hincrby(keys.inflight, result.stage, -1);
      if (Object.keys(after).length > 0) tx.hset(keys.offsets, after);
      for (const [field, by] of Object.entries(counters(result))) tx.hincrby(keys.stats, field, by);
      tx.hincrbyfloat(keys.stats, 'cost:usd', result.usage.costUsd);
      if (result.outcome === 'failed') {
        tx.hset(keys.deadLetters, `${result.stage}:${result.index}`, JSON.stringify({ id: result.id, stage: result.stage, index: result.index, error: result.error, attempts: result.attempts, input: result.input ?? {} }));
      }
      await tx.exec();
    } catch (err) {
      for (const [file, length] of before) run.logs.get(file)?.rollback(length);
      throw err;
    }
    this.#options.onCommit?.(result);
    return 'committed';
  }

  /** Which records go to which file. */
  #route(result: TaskResult, plan: RunPlan): Map<RunFile, unknown[]> {
    const writes = new Map<RunFile, unknown[]>();
    const add = (file: RunFile | undefined, records: unknown[]) => {
      if (!file || records.length === 0) return;
      writes.set(file, [...(writes.get(file) ?? []), ...records]);
    };
    if (result.outcome === 'accepted') {
      add(plan.itemsOf[result.stage], result.items ?? []);
      if (result.record) add(plan.recordsOf[result.stage] ?? plan.itemsOf[result.stage], [result.record]);
    }
    add(
      'rejected',
      (result.rejections ?? []).map((r) => ({ ...r, stage: result.stage, model: result.model })),
    );
    return writes;
  }

  async #openRun(runId: string): Promise<OpenRun> {
    let run = this.#open.get(runId);
    if (!run) {
      run = { plan: await this.#options.planFor(runId), logs: new Map() };
      this.#open.set(runId, run);
      // Cut every file back to its committed length before anything is appended.
      const offsets = await this.#options.redis.hgetall(runKeys(this.#options.prefix, runId).offsets);
      for (const [file, length] of Object.entries(offsets)) {
        run.logs.set(file as RunFile, new AppendLog(runFilePath(this.#options.dataDir, runId, file as RunFile), Number(length)));
      }
    }
    return run;
  }

  #log(run: OpenRun, runId: string, file: RunFile): AppendLog {
    let log = run.logs.get(file);
    if (!log) {
      log = new AppendLog(runFilePath(this.#options.dataDir, runId, file), 0);
      run.logs.set(file, log);
    }
    return log;
  }

  /** Appends records outside a task result (seeds), returning new lengths to commit. */
  async appendSeed(runId: string, file: RunFile, records: unknown[]): Promise<Record<string, number>> {
    const run = await this.#openRun(runId);
    return { [file]: this.#log(run, runId, file).append(records) };
  }

  /** Releases a finished run's file handles. */
  release(runId: string): void {
    const run = this.#open.get(runId);
    if (!run) return;
    for (const log of run.logs.values()) log.close();
    this.#open.delete(runId);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#worker?.close();
      } catch (err) {
        this.#options.logger.error({ err }, 'closing collector worker');
      }
      for (const runId of [...this.#open.keys()]) this.release(runId);
    })();
    return this.#closing;
  }
}

function counters(result: TaskResult): Record<string, number> {
  const c: Record<string, number> = {};
  const inc = (field: string, by = 1) => {
    if (by !== 0) c[field] = (c[field] ?? 0) + by;
  };
  const s = result.stage;
  inc(`${s}:done`);
  inc(`${s}:${result.outcome}`);
  inc(`${s}:items`, result.items?.length ?? 0);
  for (const r of result.rejections ?? []) inc(`${s}:reason:${r.reason}`);
  if (result.outcome === 'accepted') inc(`${s}:itemsRejected`, result.rejections?.length ?? 0);
  inc('tokens:prompt', result.usage.promptTokens);
  inc('tokens:output', result.usage.outputTokens);
  inc('tokens:thoughts', result.usage.thoughtsTokens);
  inc('calls', result.usage.calls);
  inc(`model:${result.model}:calls`, result.usage.calls);
  inc(`model:${result.model}:prompt`, result.usage.promptTokens);
  inc(`model:${result.model}:output`, result.usage.outputTokens);
  return c;
}
