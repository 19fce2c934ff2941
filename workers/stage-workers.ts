import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import { Job, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from '../core/logger.js';
import { CHAT_STAGES, DOCUMENT_STAGES, STAGES, type Stage } from '../core/stages.js';
import { ZERO_USAGE, taskId, type TaskData, type TaskResult } from '../core/task.js';
import { farmQueueOptions } from '../core/queues.js';

export interface StageWorkersOptions {
  connection: ConnectionOptions;
  prefix: string;
  /**
   * Most tasks this process holds at once, every stage queue together: fetched (locked in Redis)
   * and not yet acked. Never more, whatever the number of stages with waiting work.
   */
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

export interface StageWorkers {
  /** One BullMQ worker per stage queue (fetching is driven by the shared scheduler, not by them). */
  workers: Worker<TaskData, string>[];
  /** Tasks held now: being fetched, running, or being acked. */
  held(): number;
  /**
   * Stops fetching. Without `force`, waits for the tasks held to finish and be acked, then closes
   * the workers; with it, closes the workers at once (tasks held return when their locks expire).
   * A forced close may follow a graceful one that is still waiting. Each kind runs once.
   */
  close(force?: boolean): Promise<void>;
}

/**
 * The order stages are offered a free slot: the most downstream first (a task there is closest to
 * a finished item, and finishing it frees the run's window for new work), the two pipelines
 * interleaved so neither starves the other.
 */
export const STAGE_PRIORITY: readonly Stage[] = (() => {
  const docs = [...DOCUMENT_STAGES].reverse();
  const chats = [...CHAT_STAGES].reverse();
  const order: Stage[] = [];
  for (let i = 0; i < Math.max(docs.length, chats.length); i++) {
    if (docs[i]) order.push(docs[i]!);
    if (chats[i]) order.push(chats[i]!);
  }
  return order;
})();

/** Every this-many fetches, the scan starts at a rotating stage instead of the most downstream one. */
const ROTATE_EVERY = 4;
/** A stage found empty is not asked again for this long while others keep the process busy. */
const EMPTY_RECHECK_MS = 1000;
/** Longest wait on the queues' markers when every stage is empty (BullMQ's own drainDelay). */
const IDLE_BLOCK_S = 5;
/** Most fetches in flight at once, all for the stage picked. */
const FETCH_BATCH = 32;
/** Pause after a failed fetch (Redis unreachable) before the next. */
const FETCH_RETRY_MS = 1000;

/**
 * BullMQ starts a worker's lock renewal only from `run()`, which manual fetching does not call;
 * this exposes the start. The renewal is BullMQ's own: one `extendLocks` script per queue every
 * lockDuration/4 for every job whose lock is due, so thousands of held jobs cost one Redis call
 * per queue per tick, not a timer or a command per job.
 */
class StageWorker extends Worker<TaskData, string> {
  startLockRenewal(): void {
    if (!this.opts.skipLockRenewal) this.lockManager.start();
  }
}

/**
 * The stage queues of one worker process, with WORKER_CONCURRENCY as the process's total.
 *
 * Why manual fetching: a BullMQ Worker fetches for its own queue up to its own `concurrency`, so
 * one Worker per stage holds up to stages × concurrency jobs. A semaphore inside the processor
 * would cap the calls but not the jobs: each Worker would still fetch and lock its full
 * concurrency and let the surplus wait locked, hiding that work from other processes. Setting each
 * Worker's `concurrency` from a shared budget cannot keep the total either: every Worker needs at
 * least 1 (8 slots with nothing to do), and a Worker's fetch already under way cannot be taken
 * back when its share shrinks. So the Workers here never run their own loop (`autorun: false`);
 * one scheduler owns the slots and fetches a job (`getNextJob`, non-blocking) only into a free
 * one, then hands it to BullMQ's own `processJob`, which keeps everything else BullMQ does per
 * job: lock tracking and batched renewal, deferred stall failures, retries and backoff,
 * `DelayedError`, and the `failed` event that the final-failure report listens to.
 *
 * Fairness: a free slot goes to the most downstream stage with waiting work (STAGE_PRIORITY);
 * every ROTATE_EVERY-th fetch starts from a rotating stage, so an upstream stage always gets a
 * share even while downstream ones never run dry. Stages found empty are skipped for a second
 * while others keep the process busy; when every stage is empty the scheduler blocks on all the
 * queues' markers at once (the keys BullMQ's own workers block on), so new work wakes it at once.
 */
export function createStageWorkers(processor: (job: Job<TaskData>, token?: string) => Promise<string>, options: StageWorkersOptions): StageWorkers {
  const { logger } = options;
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${options.concurrency}`);
  const served = new Set(options.stages ?? STAGES);
  const stages = STAGE_PRIORITY.filter((s) => served.has(s));
  const workers = new Map<Stage, StageWorker>();
  for (const stage of stages) {
    const worker = new StageWorker(stage, processor, {
      ...farmQueueOptions(options.connection, options.prefix),
      autorun: false,
      // Recorded on each job as processedBy: which process ran it.
      name: `${hostname()}:${process.pid}`,
      lockDuration: options.lockDuration ?? 60_000,
      stalledInterval: options.stalledInterval ?? 30_000,
      // A task whose worker died is retried; more stalls than this means it kills workers, so stop.
      maxStalledCount: options.maxStalledCount ?? 2,
    });
    worker.on('error', (err) => logger.error({ err, stage }, 'stage worker error'));
    if (options.onGaveUp) {
      const gaveUp = reportGaveUp(options.onGaveUp, logger);
      // The processor publishes a result for every outcome it reaches; a job fails in BullMQ only
      // when it could not (its publish failed on the last attempt) or never ran to the end (it
      // stalled more than maxStalledCount times: BullMQ marks it then and fails it, whatever
      // attempts it has left, when a worker next picks it up — here inside getNextJob). Either way
      // the run must hear of it, or it would wait forever. `finishedOn` is set only when the
      // failure is final, not retried.
      worker.on('failed', (job, err) => {
        if (job?.finishedOn) void gaveUp(job, err.message);
      });
    }
    workers.set(stage, worker);
  }
  const scheduler = new Scheduler(workers, stages, options.concurrency, blockingClient(options.connection), logger);
  return {
    workers: [...workers.values()],
    held: () => scheduler.held,
    close: (force) => scheduler.close(force ?? false),
  };
}

class Scheduler {
  /** Jobs fetched and not yet acked: each promise settles once BullMQ has completed or failed its job. */
  private readonly running = new Set<Promise<void>>();
  private fetching = 0;
  /** When each stage was last found empty; absent: it may have work. */
  private readonly emptySince = new Map<Stage, number>();
  /** Delayed jobs' due times learned from markers: the stage has work then. */
  private readonly dueAt = new Map<Stage, number>();
  private readonly markerStage = new Map<string, Stage>();
  private wakeUp: (() => void) | undefined;
  private closing = false;
  private fetches = 0;
  private rotation = 0;
  private tokenSeq = 0;
  private readonly loop: Promise<void>;
  private graceful: Promise<void> | undefined;
  private forced: Promise<void> | undefined;

  constructor(
    private readonly workers: Map<Stage, StageWorker>,
    private readonly stages: readonly Stage[],
    private readonly limit: number,
    private readonly blocker: Redis,
    private readonly logger: Logger,
  ) {
    for (const [stage, worker] of workers) this.markerStage.set(worker.keys.marker!, stage);
    // Errors of the blocking connection surface as failed waits, which are logged there.
    blocker.on('error', () => {});
    this.loop = this.start().catch((err: unknown) => logger.error({ err }, 'stage scheduler stopped'));
  }

  get held(): number {
    return this.running.size + this.fetching;
  }

  private async start(): Promise<void> {
    for (const worker of this.workers.values()) {
      // With autorun off, BullMQ leaves both to the caller; without them a dead worker's jobs
      // would never come back and a live worker's locks would expire under it.
      await worker.startStalledCheckTimer();
      worker.startLockRenewal();
    }
    while (!this.closing) {
      if (this.held >= this.limit) {
        await this.sleep();
        continue;
      }
      const stage = this.pick();
      if (!stage) {
        await this.waitForWork();
        continue;
      }
      // Several fetches at once (ioredis pipelines them on one connection): refilling slots one
      // round trip at a time cannot keep up when thousands of slow calls end in the same second.
      const batch = Math.min(this.limit - this.held, FETCH_BATCH);
      await Promise.all(Array.from({ length: batch }, () => this.fetch(stage)));
    }
  }

  /** The stage to offer the next free slot: see createStageWorkers. */
  private pick(): Stage | undefined {
    const now = Date.now();
    for (const [stage, due] of this.dueAt) {
      if (due <= now) {
        this.dueAt.delete(stage);
        this.emptySince.delete(stage);
      }
    }
    const n = this.stages.length;
    const from = ++this.fetches % ROTATE_EVERY === 0 ? this.rotation++ % n : 0;
    for (let i = 0; i < n; i++) {
      const stage = this.stages[(from + i) % n]!;
      const since = this.emptySince.get(stage);
      if (since === undefined || now - since >= EMPTY_RECHECK_MS) return stage;
    }
    return undefined;
  }

  private async fetch(stage: Stage): Promise<void> {
    const worker = this.workers.get(stage)!;
    const token = `${worker.id}:${this.tokenSeq++}`;
    // Counted before the fetch: the job is locked in Redis the moment the fetch succeeds.
    this.fetching++;
    let job: Job<TaskData, string> | undefined;
    try {
      job = await worker.getNextJob(token, { block: false });
    } catch (err) {
      if (!this.closing) this.logger.error({ err, stage }, 'fetching a task failed');
      await this.sleep(FETCH_RETRY_MS);
      return;
    } finally {
      this.fetching--;
    }
    if (!job) {
      this.emptySince.set(stage, Date.now());
      return;
    }
    this.emptySince.delete(stage);
    // fetchNext false: a finished job must not pull the next one past the scheduler.
    const done: Promise<void> = worker
      .processJob(job, token, () => false)
      .then(
        () => undefined,
        (err: unknown) => this.logger.error({ err, stage, jobId: job.id }, 'processing a task failed'),
      )
      .finally(() => {
        this.running.delete(done);
        this.wake();
      });
    this.running.add(done);
  }

  /**
   * Every stage is empty: block on all the queues' markers at once until one gets work, a delayed
   * job falls due, or IDLE_BLOCK_S passes (then every stage is asked again: a marker may have been
   * taken by another process).
   */
  private async waitForWork(): Promise<void> {
    const now = Date.now();
    const nextDue = Math.min(...this.dueAt.values());
    const timeoutS = Math.max(0.001, Math.min(IDLE_BLOCK_S, (nextDue - now) / 1000));
    let timer: NodeJS.Timeout | undefined;
    // A blocking connection can hang without an error (a half-open socket); do not wait on it forever.
    const watchdog = new Promise<'hung'>((resolve) => (timer = setTimeout(resolve, timeoutS * 1000 + 2000, 'hung')));
    const popped = this.blocker.bzpopmin(...this.markerStage.keys(), timeoutS);
    try {
      const result = await Promise.race([popped, watchdog]);
      if (result === 'hung') {
        popped.catch(() => {});
        if (!this.closing) this.blocker.disconnect(true);
        this.emptySince.clear();
        return;
      }
      if (!result) {
        this.emptySince.clear();
        return;
      }
      const [key, , score] = result;
      const stage = this.markerStage.get(key);
      if (!stage) return;
      const due = Number(score);
      // A marker's score is 0 for waiting work, or the time the queue's next delayed job is due.
      if (due > Date.now()) this.dueAt.set(stage, Math.min(due, this.dueAt.get(stage) ?? Infinity));
      else this.emptySince.delete(stage);
    } catch (err) {
      if (this.closing) return;
      this.logger.error({ err }, 'waiting for tasks failed');
      await this.sleep(FETCH_RETRY_MS);
      this.emptySince.clear();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves on the next wake() (a slot freed, close) or after `ms`. */
  private sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wake(), ms);
      const previous = this.wakeUp;
      this.wakeUp = () => {
        clearTimeout(timer);
        previous?.();
        resolve();
      };
    });
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  close(force: boolean): Promise<void> {
    this.closing = true;
    this.wake();
    // Ends a wait on the markers at once (the pending BZPOPMIN rejects; the loop sees `closing`).
    this.blocker.disconnect();
    if (force) {
      // Not waiting for the loop or the tasks: Redis may be gone and model calls may take minutes.
      this.forced ??= Promise.allSettled([...this.workers.values()].map((w) => w.close(true))).then(() => undefined);
      return this.forced;
    }
    this.graceful ??= (async () => {
      await this.loop;
      // Acks go through the workers' connections, so they close only after every held task is acked.
      while (this.running.size > 0) await Promise.allSettled([...this.running]);
      await Promise.allSettled([...this.workers.values()].map((w) => w.close()));
    })();
    return this.graceful;
  }
}

/** A connection of its own for the blocking wait on the markers, like BullMQ's workers have. */
function blockingClient(connection: ConnectionOptions): Redis {
  // Not resent after a reconnect: a blocking command resent later would wait on a stale wake-up.
  const overrides: RedisOptions = { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false, connectionName: 'sdf-stage-scheduler' };
  if (connection instanceof Redis) return connection.duplicate(overrides);
  return new Redis({ ...(connection as RedisOptions), ...overrides });
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
