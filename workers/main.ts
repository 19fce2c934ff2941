import type { GoogleGenAI } from '@google/genai';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { FarmConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createFarmMetrics, type FarmMetrics } from '../core/metrics.js';
import { startMetricsServer, type MetricsServer } from '../core/http/metrics-server.js';
import { PromptLibrary } from '../core/prompts/prompt-library.js';
import { publishResult, publishUsage } from '../core/runs/run-results.js';
import { createRedis } from '../core/redis.js';
import { RunStore } from '../core/runs/run-store.js';
import type { Stage } from '../core/stages.js';
import type { TaskResult } from '../core/task.js';
import { loadPriceTable } from '../core/cost/price-file.js';
import { parseLimits } from '../core/limiter/model-limits.js';
import { RateLimiter } from '../core/limiter/rate-limiter.js';
import { runKeys } from '../core/keys.js';
import { createCallModel, type CallModelDeps } from './call-model.js';
import { BatchStore } from '../core/batch/batch-store.js';
import { withBatchMode } from './batch-mode.js';
import { PromptCacheRecords } from '../core/prompt-cache/prompt-cache-records.js';
import { PromptCacheNames } from './prompt-cache-names.js';
import { createQuotaGate } from './quota-gate.js';
import { ResponseStore } from '../core/gemini/response-store.js';
import { withResponseCache } from './response-cache.js';
import { DAILY_BUDGET, createBudgetGate } from './budget-gate.js';
import { BudgetLedger } from '../core/budget/budget-ledger.js';
import { ConfigError } from '../core/errors.js';
import { RunFilters } from '../core/filters/run-filters.js';
import { createTaskProcessor } from './processor.js';
import { RunCache } from './run-cache.js';
import { createStageWorkers } from './stage-workers.js';
import { Releasers } from '../core/releasers.js';
import { createAuditWorker } from './audit-worker.js';
import { createEvalWorkers } from './evals/eval-workers.js';
import { EvalStore } from '../core/evals/eval-store.js';

export interface WorkerProcessOptions {
  config: FarmConfig;
  gemini: GoogleGenAI;
  logger: Logger;
  stages?: readonly Stage[];
  /** Serve /metrics, /healthz, /readyz. @defaultValue true */
  metricsServer?: boolean;
  metrics?: FarmMetrics;
  /** Wraps how results reach their run's owner (tests make it fail); receives the real publish. */
  wrapPublish?: (publish: (result: TaskResult) => Promise<void>) => (result: TaskResult) => Promise<void>;
}

export interface WorkerProcess {
  metrics: FarmMetrics;
  metricsUrl: string | undefined;
  workers: Worker[];
  /** Stops taking tasks, lets running ones finish within `graceMs`, then closes. Idempotent. */
  close(graceMs?: number): Promise<void>;
  /**
   * For a Redis that no longer answers: drops the Redis connection (so whatever waits on it fails
   * at once), stops the stage workers without waiting for them and closes the metrics server.
   * Tasks in flight are not acked; they return to their queues when their locks expire.
   */
  abort(): Promise<void>;
}

/**
 * A worker process: stage workers sharing one processor, and the metrics endpoint. Stateless:
 * it needs only Redis and the Gemini settings.
 */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const { config, logger } = options;
  const prices = loadPriceTable(config.pricesFile);
  // Before anything is opened: a daily budget on a model without a price could count nothing.
  for (const model of Object.keys(config.dailyBudgetUsd)) {
    if (!prices.priceOf(model)) throw new ConfigError(`SDF_DAILY_BUDGET_USD.${model}: the model has no price, so its calls cannot be counted against a budget`);
  }
  const releasers = new Releasers(logger);
  const redis = createRedis(config.redisUrl);
  releasers.push(() => redis.disconnect());
  // The processor's own commands (results, corpus gate, run reads) on a connection that pipelines
  // what the tasks in flight send in the same tick: one socket write for many, where each write
  // cost a syscall and a loopback delivery (0.2 ms of CPU per task in the e2e profile). BullMQ
  // keeps its own connection, whose blocking and ordering needs this would not suit.
  const tasksRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  releasers.push(() => tasksRedis.disconnect());
  const metrics = options.metrics ?? createFarmMetrics({ labels: { component: 'worker' } });
  metrics.workerConcurrency.set(config.workerConcurrency);
  const direct = (result: TaskResult) => publishResult(tasksRedis, config.prefix, result);
  const publish = options.wrapPublish ? options.wrapPublish(direct) : direct;

  const limiter = new RateLimiter({ redis, prefix: config.prefix, windowMs: config.limiterWindowMs });
  // One filter set per run (compiled rules, corpus scopes); runs are few, so they are kept.
  const runFilters = new Map<string, RunFilters>();
  const costOf: CallModelDeps['costOf'] = (model, usage, opts) => prices.costOf(model, usage, opts);
  const runs = new RunCache(new RunStore(tasksRedis, config.prefix));
  const budget = createBudgetGate({
    ledger: new BudgetLedger(tasksRedis, config.prefix),
    specOf: (runId) => runs.spec(runId),
    costOf,
    dailyBudgets: config.dailyBudgetUsd,
    // A call is aborted at the request timeout; before it, it may wait for quota a few seconds.
    holdTtlMs: config.requestTimeoutMs + 60_000,
    metrics,
  });
  const onlineCall = createCallModel({ gemini: options.gemini, metrics, quota: createQuotaGate(limiter, { metrics }), budget, costOf, timeoutMs: config.requestTimeoutMs });
  // Calls of batch-mode stages are answered from their run's batches (re-driven online through onlineCall when they fail there).
  const modelCall = withBatchMode(onlineCall, { store: new BatchStore(tasksRedis, config.prefix), budget, metrics, logger: logger.child({ component: 'batch-mode' }), recheckMs: config.batchRecheckMs });
  // Outside the call (quota, budget, cost, batches): a cache hit reaches none of them. Max bytes 0: no cache.
  const callModel =
    config.responseCacheMaxBytes > 0
      ? withResponseCache(modelCall, {
          store: new ResponseStore({ redis: tasksRedis, prefix: config.prefix, ttlS: config.responseCacheTtlS, maxBytes: config.responseCacheMaxBytes }),
          metrics,
          logger: logger.child({ component: 'response-cache' }),
        })
      : modelCall;
  const prompts = new PromptLibrary(config.promptsDir);
  const processor = createTaskProcessor({
    callModel,
    limiter,
    defaultLimits: parseLimits(config.limits),
    filtersFor: (runId, spec) => {
      let filters = runFilters.get(runId);
      if (!filters) runFilters.set(runId, (filters = new RunFilters(tasksRedis, config.prefix, runId, spec)));
      return filters;
    },
    noteQuotaExhausted: async (runId, model, untilMs, reason) => {
      const what = reason === DAILY_BUDGET ? 'daily budget' : 'daily quota';
      await redis.hset(runKeys(config.prefix, runId).meta, 'quota', `${what} of ${model} spent until ${new Date(untilMs).toISOString()}`);
    },
    noteRateLimit: async (runId, note) => {
      await redis.hset(runKeys(config.prefix, runId).meta, 'quota', note);
    },
    runs,
    prompts,
    publish,
    reportUsage: (runId, report) => publishUsage(redis, config.prefix, runId, report),
    // Whatever the run's owner recorded; a worker makes no cache itself.
    promptCaches: { names: new PromptCacheNames(new PromptCacheRecords(tasksRedis, config.prefix)), metrics, logger: logger.child({ component: 'prompt-cache' }) },
    metrics,
    logger: logger.child({ component: 'processor' }),
  });
  // WORKER_CONCURRENCY bounds the tasks this process holds across every stage queue together.
  const stageWorkers = createStageWorkers(processor, {
    connection: redis,
    prefix: config.prefix,
    concurrency: config.workerConcurrency,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
    onGaveUp: publish,
    logger,
    ...(options.stages ? { stages: options.stages } : {}),
  });

  // The audit worker is not in that budget: it runs one audit at a time (concurrency 1).
  const auditWorker = createAuditWorker({ connection: redis, prefix: config.prefix, redis, callModel, runs, prompts, limiter, defaultLimits: parseLimits(config.limits), reportUsage: (runId, report) => publishUsage(redis, config.prefix, runId, report), logger: logger.child({ component: 'audit' }) });
  // Trait evaluations (POST /v1/evals): probes, answers and verdicts, on the same call path.
  const evalWorkers = createEvalWorkers(
    { store: new EvalStore(tasksRedis, config.prefix), prompts, callModel, limiter, defaultLimits: parseLimits(config.limits) },
    { connection: redis, prefix: config.prefix, lockDuration: config.lockDurationMs, stalledInterval: config.stalledIntervalMs, maxStalledCount: config.maxStalledCount, logger: logger.child({ component: 'evals' }) },
  );
  const workers: Worker[] = [...stageWorkers.workers, auditWorker, ...evalWorkers];
  // Stage workers close through their scheduler (it drains the tasks it holds before closing them).
  const closeAll = (force: boolean) => [stageWorkers.close(force), auditWorker.close(force), ...evalWorkers.map((w) => w.close(force))];

  let server: MetricsServer | undefined;
  if (options.metricsServer ?? true) {
    server = await startMetricsServer({
      registry: metrics.registry,
      port: config.workerMetricsPort,
      host: config.host,
      ready: async () => (await redis.ping()) === 'PONG',
    });
    releasers.push(() => server?.close());
    logger.info({ url: server.url }, `worker metrics listening on ${server.url}`);
  }

  let closing: Promise<void> | undefined;
  let aborting: Promise<void> | undefined;
  return {
    metrics,
    metricsUrl: server?.url,
    workers,
    close(graceMs = config.requestTimeoutMs + 5_000) {
      closing ??= (async () => {
        const drained = Promise.allSettled(closeAll(false));
        const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
        if ((await Promise.race([drained, deadline])) === 'timeout') {
          logger.warn({ graceMs }, 'in-flight tasks did not finish in time; forcing close (they will be retried)');
          await Promise.allSettled(closeAll(true));
        }
        await releasers.release();
      })();
      return closing;
    },
    abort() {
      aborting ??= (async () => {
        // First, so BullMQ's and the processor's pending commands reject instead of waiting.
        redis.disconnect();
        tasksRedis.disconnect();
        // Not awaited: the audit worker, if already draining, keeps waiting for its running task
        // (BullMQ's close is once-only, so force cannot overtake it), and model calls may take
        // minutes. The stage workers' forced close does overtake their drain.
        for (const closing of closeAll(true)) void closing.catch(() => {});
        await server?.close();
      })();
      return aborting;
    },
  };
}
