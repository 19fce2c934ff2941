import { Queue, type ConnectionOptions } from 'bullmq';
import type { GoogleGenAI } from '@google/genai';
import type { Redis } from 'ioredis';
import { runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { AUDIT_QUEUE, type AuditTaskData, type StageQueues } from '../core/queues.js';
import { FencedError, RunLedger } from '../core/runs/run-ledger.js';
import type { RunStore } from '../core/runs/run-store.js';
import { toError } from '../core/errors.js';
import { hasEnded } from '../core/runs/run-state.js';
import { BatchStore, type BatchResultItem } from '../core/batch/batch-store.js';
import { batchStages } from '../core/spec/resolve-stage-settings.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { RunBatcher, type BatchOptions } from './batch/run-batcher.js';
import { AuditTrigger } from './audit-trigger.js';
import { Expander } from './expander.js';
import { planRun } from './expansion-plan.js';
import { RunDriver } from './run-driver.js';
import { RunLeases } from './run-leases.js';
import type { PromptCacheKeeper } from './prompt-cache-keeper.js';
import { returnParkedTasks } from './return-parked-tasks.js';
import { BudgetLedger } from '../core/budget/budget-ledger.js';

export interface ProducerOptions {
  redis: Redis;
  connection: ConnectionOptions;
  queues: StageQueues;
  runs: RunStore;
  prefix: string;
  dataDir: string;
  /** @defaultValue 2000 */
  window?: number;
  /** @defaultValue 5 */
  attempts?: number;
  /** How often every owned run is stepped (refill, reconcile, complete) and unowned runs claimed. @defaultValue 500 */
  tickMs?: number;
  /** A run's lease lasts this long without renewal; another `serve` takes the run over after it. @defaultValue 15000 */
  lockTtlMs?: number;
  /** Most stream entries one commit consumes. @defaultValue 500 */
  batchSize?: number;
  /** fdatasync files before their lengths are committed. @defaultValue true */
  fsync?: boolean;
  /** Seconds a finished run's working state stays in Redis. @defaultValue 604800 */
  retentionS?: number;
  /** A run with no commit for this long is reconciled against BullMQ. @defaultValue 30000 */
  reconcileIntervalMs?: number;
  metrics?: FarmMetrics;
  /** Keeps the explicit Gemini caches of the runs this process owns; absent = none made. */
  promptCaches?: PromptCacheKeeper;
  logger: Logger;
  /** The client batch-mode runs' batches go through (absent: their batch-mode tasks wait, logged). */
  gemini?: GoogleGenAI;
  /** Batch mode's settings. @defaultValue DEFAULT_BATCH_OPTIONS */
  batch?: Partial<BatchOptions>;
  /** USD of a batch call's tokens at the batch price; undefined when the model has no price. @defaultValue every call unpriced */
  batchCostOf?: (model: string, tokens: BatchResultItem['tokens']) => number | undefined;
}

/** Batch mode's defaults: core/config.ts documents each (SDF_BATCH_*). */
export const DEFAULT_BATCH_OPTIONS: BatchOptions = { maxRequests: 1000, maxAgeMs: 60_000, inlineMaxBytes: 16 * 1024 * 1024, pollMinMs: 10_000, pollMaxMs: 300_000, tries: 2 };

type Resolved = Required<Omit<ProducerOptions, 'metrics' | 'gemini' | 'batch' | 'batchCostOf' | 'promptCaches'>> & {
  metrics: FarmMetrics | undefined;
  gemini: GoogleGenAI | undefined;
  batch: BatchOptions;
  batchCostOf: NonNullable<ProducerOptions['batchCostOf']>;
  promptCaches: PromptCacheKeeper | undefined;
};

/**
 * Drives the runs this process owns. Runs are shared among `serve` processes by leases
 * (RunLeases): each claims unowned runs up to its fair share, so the farm's producing capacity
 * grows with replicas, and a run whose owner dies is taken over when its lease expires. Three
 * loops, none waiting on another: leases are renewed on their own timer; results are read from
 * the owned runs' streams and committed in batches; a tick steps every owned run and claims more.
 * Everything a run's progress is lives in Redis and the run files, so any producer resumes any
 * run where it stood.
 */
export class Producer {
  readonly expander: Expander;
  readonly ledger: RunLedger;
  readonly budgets: BudgetLedger;
  readonly leases: RunLeases;
  readonly #options: Resolved;
  readonly #drivers = new Map<string, RunDriver>();
  /** Owned runs with batch-mode stages: their batches (fills, submissions, polls, results). */
  readonly #batchers = new Map<string, RunBatcher>();
  readonly #batchStore: BatchStore;
  readonly #auditQueue: Queue<AuditTaskData>;
  /** Per run, a step queued behind the driver's current operation (later callers join it). */
  readonly #stepsWaiting = new Map<string, Promise<void>>();
  readonly #releasing = new Map<string, Promise<void>>();
  readonly #audits: AuditTrigger;
  readonly #reader: Redis;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #reading: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ProducerOptions) {
    this.#options = {
      window: 2000,
      attempts: 5,
      tickMs: 500,
      lockTtlMs: 15_000,
      batchSize: 500,
      fsync: true,
      retentionS: 604_800,
      reconcileIntervalMs: 30_000,
      ...options,
      metrics: options.metrics,
      gemini: options.gemini,
      promptCaches: options.promptCaches,
      batch: { ...DEFAULT_BATCH_OPTIONS, ...options.batch },
      batchCostOf: options.batchCostOf ?? (() => undefined),
    };
    const { redis, prefix, dataDir, queues, logger, connection } = this.#options;
    this.ledger = new RunLedger(redis, prefix);
    this.budgets = new BudgetLedger(redis, prefix);
    this.expander = new Expander({ redis, ledger: this.ledger, queues, prefix, dataDir, window: this.#options.window, attempts: this.#options.attempts });
    this.leases = new RunLeases({ redis, prefix, ttlMs: this.#options.lockTtlMs, logger, onLost: (runId) => this.#drop(runId) });
    this.#auditQueue = new Queue<AuditTaskData>(AUDIT_QUEUE, { connection, prefix });
    this.#batchStore = new BatchStore(redis, prefix);
    this.#audits = new AuditTrigger(redis, prefix, dataDir, this.#auditQueue);
    // Blocking reads get their own connection, so they never hold up the ledger's commands.
    this.#reader = redis.duplicate();
    this.#reader.on('error', (err) => logger.error({ err }, 'result reader connection error'));
  }

  /** Runs this process owns right now. */
  get owned(): string[] {
    return this.leases.held;
  }

  start(): void {
    if (this.#timer || this.#stopped) return;
    this.leases.start();
    this.#options.promptCaches?.start(() => this.#options.runs.activeRunIds());
    this.#timer = setInterval(() => void this.tick(), this.#options.tickMs);
    void this.tick();
    this.#reading = this.#readLoop();
  }

  /** One pass: claim runs up to the fair share, then step every owned run. Never throws. */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    try {
      await this.leases.renew();
      await this.#claim();
      await Promise.all([...this.#drivers.keys()].map((runId) => this.drive(runId)));
      // Not awaited: uploads, polls and downloads take their time and must not hold up the runs' steps.
      for (const batcher of this.#batchers.values()) void batcher.tick();
    } catch (err) {
      this.#options.logger.error({ err: toError(err) }, 'producer tick failed');
    }
  }

  /** Takes unowned active runs while this process holds fewer than its share. */
  async #claim(): Promise<void> {
    const { runs, logger } = this.#options;
    const active = await runs.activeRunIds();
    const share = Math.ceil(active.length / (await this.leases.liveProducers()));
    // A replica joined (or runs ended): give one run back per tick while over the share, so the
    // runs spread over the replicas and the farm's ceiling grows with them.
    if (this.#drivers.size > share && !this.#stopped) {
      const runId = [...this.#drivers.keys()].at(-1)!;
      logger.info({ runId, owned: this.#drivers.size, share }, 'giving a run back to even the load');
      await this.#release(runId);
    }
    for (const runId of active) {
      if (this.#drivers.size >= share) break;
      if (this.#drivers.has(runId) || this.#stopped) continue;
      if (!(await this.leases.acquire(runId))) continue;
      const run = await runs.find(runId);
      if (!run) {
        await this.leases.release(runId);
        continue;
      }
      const driver = this.#newDriver(runId, run.spec);
      // The run's explicit caches first (bounded), so its tasks find them from the start.
      await withTimeout(this.#options.promptCaches?.track(runId, run.spec, driver.plan.stages, () => this.leases.token(runId)), CACHES_FIRST_MS);
      this.#drivers.set(runId, driver);
      this.#newBatcher(runId, run.spec);
      logger.info({ runId }, 'took ownership of run');
    }
  }

  #newDriver(runId: string, spec: ReturnType<typeof JSON.parse>): RunDriver {
    const o = this.#options;
    return new RunDriver(runId, spec, planRun(spec), {
      redis: o.redis,
      prefix: o.prefix,
      dataDir: o.dataDir,
      runs: o.runs,
      ledger: this.ledger,
      expander: this.expander,
      audits: this.#audits,
      metrics: o.metrics,
      logger: o.logger,
      fsync: o.fsync,
      retentionS: o.retentionS,
      reconcileIntervalMs: o.reconcileIntervalMs,
      token: () => this.leases.token(runId),
      onCommitted: async (committed) => this.#batchers.get(runId)?.forget(committed),
      budgets: this.budgets,
      returnParked: (id) => returnParkedTasks(o.redis, [...Object.values(o.queues), this.#auditQueue], id),
    });
  }

  #newBatcher(runId: string, spec: RunSpec): void {
    const o = this.#options;
    const stages = batchStages(spec, planRun(spec).stages);
    if (stages.length === 0) return;
    this.#batchers.set(
      runId,
      new RunBatcher({
        runId,
        stages,
        store: this.#batchStore,
        gemini: o.gemini,
        queues: o.queues,
        ledger: this.ledger,
        options: o.batch,
        costOf: o.batchCostOf,
        budgets: this.budgets,
        dataDir: o.dataDir,
        metrics: o.metrics,
        logger: o.logger,
        token: () => this.leases.token(runId),
      }),
    );
  }

  /** Steps one owned run; lets it go when it is over or the lease is lost. */
  async drive(runId: string): Promise<void> {
    const driver = this.#drivers.get(runId);
    if (!driver) return;
    // A step already waiting to run will see everything this caller wanted it to see.
    const waiting = this.#stepsWaiting.get(runId);
    if (waiting) return waiting;
    const step = driver.idle().then(async () => {
      this.#stepsWaiting.delete(runId);
      try {
        if (!(await driver.step())) await this.#release(runId);
      } catch (err) {
        this.#failed(runId, err, 'driving run failed');
      }
    });
    this.#stepsWaiting.set(runId, step);
    return step;
  }

  /** Reads the owned runs' result streams in batches and commits them, until closed. */
  async #readLoop(): Promise<void> {
    const { prefix, batchSize } = this.#options;
    while (!this.#stopped) {
      const owned = [...this.#drivers.keys()];
      if (owned.length === 0) {
        await sleep(100);
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        const streams = owned.map((id) => runKeys(prefix, id).results);
        reply = (await this.#reader.xread('COUNT', batchSize, 'BLOCK', 250, 'STREAMS', ...streams, ...streams.map(() => '0'))) as typeof reply;
      } catch (err) {
        if (!this.#stopped) this.#options.logger.error({ err }, 'reading results failed');
        await sleep(500);
        continue;
      }
      const readAt = Date.now();
      await Promise.all(
        (reply ?? []).map(async ([stream, entries]) => {
          const runId = owned.find((id) => runKeys(prefix, id).results === stream);
          const driver = runId ? this.#drivers.get(runId) : undefined;
          if (!driver || entries.length === 0) return;
          try {
            await driver.commitRaw(entries);
            void this.drive(runId!);
          } catch (err) {
            this.#failed(runId!, err, 'committing results failed; will retry');
          }
        }),
      );
      // A short linger after a small batch lets results gather: each commit costs a few round
      // trips and an fdatasync whatever its size, so fewer, larger batches cost less per result.
      const small = (reply ?? []).every(([, entries]) => entries.length < batchSize / 4);
      const wait = BATCH_LINGER_MS - (Date.now() - readAt);
      if (reply && small && wait > 0) await sleep(wait);
    }
  }

  #failed(runId: string, err: unknown, message: string): void {
    if (err instanceof FencedError) {
      this.leases.lost(runId);
      return;
    }
    this.#options.logger.error({ err: toError(err), runId }, message);
  }

  /** The lease is gone: stop at once; the driver's files close after the operation in hand. */
  #drop(runId: string): void {
    const driver = this.#drivers.get(runId);
    this.#drivers.delete(runId);
    this.#options.promptCaches?.untrack(runId);
    void driver?.close();
    void this.#batchers.get(runId)?.close();
    this.#batchers.delete(runId);
  }

  /** Lets a run go (it is over, or given back); one release at a time per run, later callers join it. */
  #release(runId: string): Promise<void> {
    let releasing = this.#releasing.get(runId);
    if (!releasing) {
      releasing = this.#releaseNow(runId).finally(() => this.#releasing.delete(runId));
      this.#releasing.set(runId, releasing);
    }
    return releasing;
  }

  async #releaseNow(runId: string): Promise<void> {
    const driver = this.#drivers.get(runId);
    const batcher = this.#batchers.get(runId);
    this.#drivers.delete(runId);
    this.#batchers.delete(runId);
    await Promise.all([driver?.close(), batcher?.close()]);
    // Still under the lease, so the caches' records are cleared by their owner.
    await this.#settleCaches(runId);
    await this.leases.release(runId);
  }

  /** A run that has ended (or is gone) has its explicit caches deleted; one given back keeps them for its next owner. */
  async #settleCaches(runId: string): Promise<void> {
    const caches = this.#options.promptCaches;
    if (!caches) return;
    let over: boolean;
    try {
      const state = await this.#options.runs.state(runId);
      // budget_exhausted too: raising the budget reopens the run, and its next owner makes them again.
      over = state === undefined || hasEnded(state);
    } catch (err) {
      // Unknown: kept; the next owner or the sweep deals with them.
      this.#options.logger.warn({ err: toError(err), runId }, 'reading the state of a run let go failed; its explicit caches are kept');
      over = false;
    }
    if (over) await caches.end(runId);
    else caches.untrack(runId);
  }

  /** Stops driving and gives every run back; the commit in hand finishes first. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopped = true;
      if (this.#timer) clearInterval(this.#timer);
      const steps: [string, () => Promise<unknown>][] = [
        ['tick', async () => this.#ticking],
        ['result reader', async () => this.#reading],
        ['runs', () => Promise.all([...this.#drivers.keys()].map((id) => this.#release(id)))],
        ['prompt caches', async () => this.#options.promptCaches?.close()],
        ['leases', () => this.leases.close()],
        ['audit queue', () => this.#auditQueue.close()],
        ['reader connection', async () => this.#reader.disconnect()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          this.#options.logger.error({ err, step: name }, 'closing producer');
        }
      }
    })();
    return this.#closing;
  }
}

/** The least time between two reads of a run's results while they come in small batches. */
const BATCH_LINGER_MS = 20;

/** Longest a newly owned run waits for its explicit caches before its tasks go out anyway. */
const CACHES_FIRST_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for `work` at most `ms` (it carries on regardless). */
async function withTimeout(work: Promise<void> | undefined, ms: number): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
