import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { farmKeys, runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { StageQueues } from '../core/queues.js';
import type { RunStore } from '../core/runs/run-store.js';
import { toError } from '../core/errors.js';
import { Collector } from './collector.js';
import { Expander } from './expander.js';
import { planRun, seedItems, type RunPlan } from './expansion-plan.js';
import { LeaderLock } from './leader-lock.js';
import { AuditTrigger } from './audit-trigger.js';
import { finalizePatterns } from './finalize-patterns.js';
import { AUDIT_QUEUE, type AuditTaskData } from '../core/queues.js';
import type { TaskResult } from '../core/task.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';

const COMMIT_START = `
if redis.call('hsetnx', KEYS[1], 'initialized', '1') == 0 then return 0 end
for file, length in pairs(cjson.decode(ARGV[1])) do redis.call('hset', KEYS[2], file, length) end
for _, stage in ipairs(cjson.decode(ARGV[2])) do
  redis.call('hincrby', KEYS[3], stage, 1)
  redis.call('hincrby', KEYS[4], stage .. ':enqueued', 1)
end
return 1`;

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
  /** How often every active run is looked at, besides after each commit. @defaultValue 500 */
  tickMs?: number;
  /** Leadership lasts this long without renewal. @defaultValue 15000 */
  lockTtlMs?: number;
  logger: Logger;
}

/**
 * Drives runs: starts them (seeds or root tasks), expands them as results come in, and closes
 * them when nothing is left. Everything it knows is in Redis and the run files, so a restarted
 * producer resumes every unfinished run where it stood.
 */
export class Producer {
  readonly collector: Collector;
  readonly expander: Expander;
  readonly #options: Required<Omit<ProducerOptions, 'logger'>> & { logger: Logger };
  readonly #lock: LeaderLock;
  /** Each active run's spec and fan-out plan, read once (specs never change after submission). */
  readonly #contexts = new Map<string, { spec: RunSpec; plan: RunPlan }>();
  readonly #auditQueue: Queue<AuditTaskData>;
  readonly #audits: AuditTrigger;
  readonly #dirty = new Set<string>();
  readonly #driving = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #leader = false;
  #ticking: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ProducerOptions) {
    this.#options = { window: 2000, attempts: 5, tickMs: 500, lockTtlMs: 15_000, ...options };
    const { redis, prefix, dataDir, queues, runs, logger, connection } = this.#options;
    this.#lock = new LeaderLock(redis, farmKeys(prefix).producerLock, this.#options.lockTtlMs);
    this.expander = new Expander({ redis, queues, prefix, dataDir, window: this.#options.window, attempts: this.#options.attempts });
    this.collector = new Collector({
      redis,
      connection,
      prefix,
      dataDir,
      runs,
      planFor: async (runId) => (await this.#context(runId)).plan,
      logger: logger.child({ component: 'collector' }),
      onCommit: (result) => this.#committed(result),
    });
    this.#auditQueue = new Queue<AuditTaskData>(AUDIT_QUEUE, { connection, prefix });
    this.#audits = new AuditTrigger(redis, prefix, dataDir, this.#auditQueue);
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#options.tickMs);
    void this.tick();
  }

  /** One pass: keep or take leadership, then drive every active run. Never throws. */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const { logger, runs } = this.#options;
    try {
      if (!(await this.#holdLeadership())) return;
      for (const runId of await runs.activeRunIds()) {
        try {
          await this.drive(runId);
        } catch (err) {
          logger.error({ err, runId }, 'driving run failed');
        }
      }
    } catch (err) {
      logger.error({ err: toError(err) }, 'producer tick failed');
    }
  }

  async #holdLeadership(): Promise<boolean> {
    if (this.#leader) {
      if (await this.#lock.renew()) return true;
      this.#options.logger.warn('lost producer leadership');
      this.#leader = false;
      await this.collector.close();
      return false;
    }
    if (!(await this.#lock.acquire())) return false;
    this.#leader = true;
    this.#options.logger.info('producer is leader');
    this.collector.start();
    return true;
  }

  async #context(runId: string, spec?: RunSpec): Promise<{ spec: RunSpec; plan: RunPlan }> {
    let context = this.#contexts.get(runId);
    if (!context) {
      spec ??= (await this.#options.runs.get(runId)).spec;
      context = { spec, plan: planRun(spec) };
      this.#contexts.set(runId, context);
    }
    return context;
  }

  #committed(result: TaskResult): void {
    this.#poke(result.runId);
    if (result.outcome !== 'accepted' || !result.record) return;
    const kind = result.stage === 'chat-responses' ? 'chat' : 'document';
    void (async () => {
      const { spec, plan } = await this.#context(result.runId);
      // Only final records (not drafts on their way to revise) count towards an audit.
      if (plan.recordsOf[result.stage]) await this.#audits.accepted(result.runId, spec, kind);
    })().catch((err) => this.#options.logger.error({ err, runId: result.runId }, 'queueing a pattern audit failed'));
  }

  #poke(runId: string): void {
    if (this.#dirty.has(runId)) return;
    this.#dirty.add(runId);
    setImmediate(() => {
      this.#dirty.delete(runId);
      this.drive(runId).catch((err) => this.#options.logger.error({ err, runId }, 'driving run failed'));
    });
  }

  /** Starts, expands or closes one run. Calls for the same run are serialised. */
  drive(runId: string): Promise<void> {
    const previous = this.#driving.get(runId) ?? Promise.resolve();
    const next = previous.then(() => this.#drive(runId));
    const tracked = next.finally(() => {
      if (this.#driving.get(runId) === tracked) this.#driving.delete(runId);
    });
    this.#driving.set(runId, tracked);
    return tracked;
  }

  async #drive(runId: string): Promise<void> {
    if (!this.#leader) return;
    const { runs, logger } = this.#options;
    const run = await runs.find(runId);
    if (!run || (run.state !== 'queued' && run.state !== 'running')) {
      this.collector.release(runId);
      this.#contexts.delete(runId);
      return;
    }
    const { plan } = await this.#context(runId, run.spec);
    if (run.state === 'queued') {
      await this.#startRun(runId, run.spec, plan);
      logger.info({ runId, name: run.name }, 'run started');
    }
    await this.expander.expand(runId, plan);
    if (await this.expander.isFinished(runId, plan)) {
      const withheld = await finalizePatterns(this.#options.redis, this.#options.prefix, this.#options.dataDir, runId, run.spec);
      if (withheld > 0) logger.info({ runId, withheld }, 'records carrying active patterns withheld from the export');
      if (await runs.finish(runId, 'completed')) logger.info({ runId }, 'run completed');
      this.collector.release(runId);
      this.#contexts.delete(runId);
    }
  }

  /** Seeds given facts/traits or enqueues the root tasks. Safe to repeat after a crash. */
  async #startRun(runId: string, spec: RunSpec, plan: RunPlan): Promise<void> {
    const { redis, prefix, runs } = this.#options;
    const keys = runKeys(prefix, runId);
    if (!(await redis.hget(keys.meta, 'initialized'))) {
      const offsets: Record<string, number> = {};
      const roots: string[] = [];
      for (const root of plan.roots) {
        if (root.seeded) {
          Object.assign(offsets, await this.collector.appendSeed(runId, root.file, seedItems(spec, root.stage)));
        } else {
          await this.expander.enqueueRoot(runId, root.stage);
          roots.push(root.stage);
        }
      }
      // Counts and seed lengths are committed once, with the flag, whatever happened before a crash.
      await redis.eval(COMMIT_START, 4, keys.meta, keys.offsets, keys.inflight, keys.stats, JSON.stringify(offsets), JSON.stringify(roots));
    }
    await runs.markRunning(runId);
  }

  /** Stops driving; the collector finishes the result in hand. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      try {
        await this.#ticking;
        await Promise.allSettled(this.#driving.values());
      } catch {
        // errors were logged where they happened
      }
      await this.collector.close();
      await this.#auditQueue.close().catch(() => {});
      if (this.#leader) {
        try {
          await this.#lock.release();
        } catch (err) {
          this.#options.logger.error({ err }, 'releasing producer lock');
        }
      }
    })();
    return this.#closing;
  }
}
