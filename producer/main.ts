import type { GoogleGenAI } from '@google/genai';
import type { FarmConfig } from '../core/config.js';
import { loadPriceTable } from '../core/cost/price-file.js';
import { createGeminiClient } from '../core/gemini/create-gemini-client.js';
import type { Logger } from '../core/logger.js';
import { createFarmMetrics, type FarmMetrics } from '../core/metrics.js';
import { closeQueues, createStageQueues, type StageQueues } from '../core/queues.js';
import { createRedis } from '../core/redis.js';
import { parseLimits } from '../core/limiter/model-limits.js';
import { RunStore } from '../core/runs/run-store.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import { Producer } from './producer.js';
import { ApiTokens } from '../core/auth/api-tokens.js';
import { assertBindAllowed } from '../core/auth/loopback.js';
import { Releasers } from '../core/releasers.js';
import { registerQueueGauges } from './queue-gauges.js';
import { PromptLibrary } from '../core/prompts/prompt-library.js';
import { PromptCacheKeeper, type PromptCacheKeeperOptions } from './prompt-cache-keeper.js';
import { createEvalQueues } from '../core/evals/eval-queues.js';
import { EvalOwner } from './evals/eval-owner.js';

export interface FarmServer {
  api: ApiServer;
  producer: Producer;
  runs: RunStore;
  queues: StageQueues;
  metrics: FarmMetrics;
  close(): Promise<void>;
}

/**
 * `sdf-farm serve`: the API and the producer in one process (the API's exports read the files
 * the producer writes). Releasers run in reverse order on close; each step is guarded.
 */
export async function startFarmServer(options: { config: FarmConfig; logger: Logger; port?: number; gemini?: GoogleGenAI }): Promise<FarmServer> {
  const { config, logger } = options;
  // Before anything starts: an API open to the network with no token must not come up at all.
  assertBindAllowed(config.host, Boolean(config.apiToken || config.apiTokensFile));
  const releasers = new Releasers(logger);
  const apiTokens = new ApiTokens({ envToken: config.apiToken, file: config.apiTokensFile, logger: logger.child({ component: 'api-tokens' }) });
  releasers.push(() => apiTokens.close());
  const redis = createRedis(config.redisUrl);
  releasers.push(() => redis.disconnect());
  const queues = createStageQueues(redis, config.prefix);
  releasers.push(() => closeQueues(Object.values(queues)));
  const runs = new RunStore(redis, config.prefix);
  const metrics = createFarmMetrics({ labels: { component: 'serve' } });
  registerQueueGauges(metrics, queues, runs);

  // Batch mode's batches are the run owner's to submit and poll, so `serve` talks to Gemini too.
  const gemini = options.gemini ?? (config.geminiApiKey || config.geminiBaseUrl ? createGeminiClient({ ...(config.geminiApiKey ? { apiKey: config.geminiApiKey } : {}), ...(config.geminiBaseUrl ? { baseUrl: config.geminiBaseUrl } : {}), timeoutMs: config.requestTimeoutMs }) : undefined);
  const prices = loadPriceTable(config.pricesFile);
  const prompts = new PromptLibrary(config.promptsDir);
  const promptCaches = promptCacheKeeper(config, { gemini, redis, prices, prompts, metrics, logger });
  const producer = new Producer({
    redis,
    connection: redis,
    queues,
    runs,
    prefix: config.prefix,
    dataDir: config.dataDir,
    window: config.runWindow,
    attempts: config.taskAttempts,
    lockTtlMs: config.producerLockTtlMs,
    fsync: config.fsync,
    retentionS: config.runRetentionS,
    reconcileIntervalMs: config.reconcileIntervalMs,
    metrics,
    ...(promptCaches ? { promptCaches } : {}),
    logger: logger.child({ component: 'producer' }),
    ...(gemini ? { gemini } : {}),
    batch: { maxRequests: config.batchMaxRequests, maxAgeMs: config.batchMaxAgeMs, inlineMaxBytes: config.batchInlineMaxBytes, pollMinMs: config.batchPollMinMs, pollMaxMs: config.batchPollMaxMs, tries: config.batchTries },
    batchCostOf: (model, tokens) => prices.costOf(model, tokens, { batch: true }),
  });
  producer.start();
  releasers.push(() => producer.close());
  // Trait evaluations: this serve drives the active evals whose lease it holds.
  const evalQueues = createEvalQueues(redis, config.prefix);
  releasers.push(() => closeQueues(Object.values(evalQueues)));
  const evalOwner = new EvalOwner({ redis, prefix: config.prefix, queues: evalQueues, dataDir: config.dataDir, attempts: config.taskAttempts, leaseTtlMs: config.producerLockTtlMs, logger: logger.child({ component: 'eval-owner' }) });
  evalOwner.start();
  releasers.push(() => evalOwner.close());

  const api = await startApiServer({
    services: {
      redis,
      prefix: config.prefix,
      runs,
      queues,
      dataDir: config.dataDir,
      taskAttempts: config.taskAttempts,
      leaseTtlMs: config.producerLockTtlMs,
      metrics,
      apiTokens,
      prices,
      prompts,
      dailyBudgetUsd: config.dailyBudgetUsd,
      operatorLimits: { allowedModels: config.allowedModels, modelLimits: parseLimits(config.limits), maxRunTasks: config.maxRunTasks, maxUniverseChars: config.maxUniverseChars },
      maxBodyBytes: config.maxBodyBytes,
      apiRateLimit: config.apiRateLimit,
    },
    port: options.port ?? config.port,
    host: config.host,
    logger,
  });
  releasers.push(() => api.close());

  return {
    api,
    producer,
    runs,
    queues,
    metrics,
    close: () => releasers.release(),
  };
}

/**
 * The run owners' explicit caching (SDF_EXPLICIT_CACHE_MIN_TOKENS > 0): needs this process to
 * reach Gemini (GEMINI_API_KEY or GEMINI_BASE_URL), as workers do.
 */
function promptCacheKeeper(
  config: FarmConfig,
  deps: Pick<PromptCacheKeeperOptions, 'redis' | 'prices' | 'prompts' | 'metrics' | 'logger'> & { gemini: GoogleGenAI | undefined },
): PromptCacheKeeper | undefined {
  const { logger, gemini } = deps;
  if (config.explicitCacheMinTokens <= 0) return undefined;
  if (!gemini) {
    logger.info('explicit context caching off: this serve has no Gemini settings (GEMINI_API_KEY or GEMINI_BASE_URL)');
    return undefined;
  }
  return new PromptCacheKeeper({
    ...deps,
    gemini,
    prefix: config.prefix,
    minTokens: config.explicitCacheMinTokens,
    ttlS: config.explicitCacheTtlS,
    logger: logger.child({ component: 'prompt-cache' }),
  });
}
