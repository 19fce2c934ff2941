import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric the farm exports, defined once so the dashboards, alert rules and
 * processes agree on names and labels. Labels are bounded: stage, model, outcome, reason,
 * status class, token kind, queue state, chat turn (at most 20). Never run ids, task ids, prompts or error text.
 */
export interface FarmMetrics {
  registry: Registry;
  tasksCompleted: Counter<'stage' | 'outcome'>;
  /** Chat turns finished, by stage (chat-responses: the answer; chat-user: the user's message), turn number (1..20) and outcome. */
  chatTurns: Counter<'stage' | 'turn' | 'outcome'>;
  rejections: Counter<'stage' | 'reason'>;
  llmRequests: Counter<'model' | 'status_class'>;
  llmRequestDuration: Histogram<'model'>;
  llmTokens: Counter<'model' | 'kind'>;
  llmCost: Counter<'model'>;
  /** USD saved by prompt-cache hits: cached tokens at the input rate minus at the cached rate. */
  llmCacheSaving: Counter<'model'>;
  /** Calls that found their explicit cache gone (expired, deleted) and were sent again with the system instruction. */
  promptCacheFallbacks: Counter<'model'>;
  /** What the run owners did to explicit caches: created, adopted, renewed, recreated, refused, deleted, failed. */
  promptCacheEvents: Counter<'event'>;
  rateLimitWaitSeconds: Counter<'model'>;
  rateLimitWaits: Counter<'model'>;
  rateLimitEffectiveRpm: Gauge<'model'>;
  rateLimitEffectiveTpm: Gauge<'model'>;
  queueJobs: Gauge<'stage' | 'state'>;
  runs: Gauge<'state'>;
  inflightCalls: Gauge;
  workerConcurrency: Gauge;
  /** Calls of a model with no price in the table: their cost is unknown, not zero. */
  llmUnpricedCalls: Counter<'model'>;
  /** Runs whose ledger disagreed with what BullMQ holds, repaired by the reconciler, by kind. */
  reconcilerRepairs: Counter<'kind'>;
  /** Results committed per ledger commit (the producer's batching). */
  commitBatchSize: Histogram;
  /** Batch mode: Gemini batches submitted, by model and input (inline, file). */
  batchesSubmitted: Counter<'model' | 'input'>;
  /** Batch mode: batches ended, by model and final state (succeeded, failed, expired, cancelled, refused). */
  batchesCompleted: Counter<'model' | 'state'>;
  /** Batch mode: requests by outcome (answered, failed, requeued, online). */
  batchRequests: Counter<'model' | 'outcome'>;
  /** Response cache (workers/response-cache.ts): answers given without a model call, by model. */
  responseCacheHits: Counter<'model'>;
  /** Answers fetched from the model because the cache had none, by model. */
  responseCacheMisses: Counter<'model'>;
  /** USD the hits did not spend (what each stored answer cost when it was made), by model. */
  responseCacheSavedUsd: Counter<'model'>;
  /** Answers offered to the cache, by outcome (stored, present, unusable, too-large, error). */
  responseCacheStores: Counter<'outcome'>;
  /** Entries removed from the cache by its byte bound (size) or after their TTL (expired). */
  responseCacheEvictions: Counter<'reason'>;
  /** Bytes the cache charged for its entries after this process's latest store. */
  responseCacheBytes: Gauge;
  /** Calls not made because a budget was spent: a run's cap (`scope="run"`) or a model's daily budget (`scope="daily"`). */
  budgetRefusals: Counter<'scope' | 'model'>;
  /** Filled by the process that can see them (serve): sampled on every scrape. */
  collectors: {
    queueJobs?: (gauge: Gauge<'stage' | 'state'>) => Promise<void>;
    runs?: (gauge: Gauge<'state'>) => Promise<void>;
  };
}

export interface FarmMetricsOptions {
  /** Adds process-level default metrics (CPU, memory, event loop). @defaultValue true */
  defaultMetrics?: boolean;
  /** Constant labels on every series, e.g. `{ component: 'worker' }`. @defaultValue {} */
  labels?: Record<string, string>;
}

/** LLM calls take from under a second to several minutes; the buckets span that. */
export const LLM_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

export function createFarmMetrics(options: FarmMetricsOptions = {}): FarmMetrics {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'sdf_' });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
    // rejects them); the farm does without them rather than export misleading names.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) registry.removeSingleMetric(`sdf_nodejs_${name}`);
  }
  const registers = [registry];
  const collectors: FarmMetrics['collectors'] = {};
  return {
    collectors,
    registry,
    llmUnpricedCalls: new Counter({
      name: 'sdf_llm_unpriced_calls_total',
      help: 'Model calls whose model has no price in the table: their cost is unknown, not counted as zero.',
      labelNames: ['model'],
      registers,
    }),
    reconcilerRepairs: new Counter({
      name: 'sdf_reconciler_repairs_total',
      help: 'Tasks the reconciler repaired because the run ledger disagreed with BullMQ, by kind (failed-job, lost-task).',
      labelNames: ['kind'],
      registers,
    }),
    commitBatchSize: new Histogram({
      name: 'sdf_producer_commit_batch_size',
      help: 'Stream entries (results and usage reports) consumed by one ledger commit.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    responseCacheHits: new Counter({
      name: 'sdf_response_cache_hits_total',
      help: 'Model answers given by the response cache instead of a call (no quota, no cost), by model.',
      labelNames: ['model'],
      registers,
    }),
    responseCacheMisses: new Counter({
      name: 'sdf_response_cache_misses_total',
      help: 'Model answers fetched from the model because the response cache had none, by model.',
      labelNames: ['model'],
      registers,
    }),
    responseCacheSavedUsd: new Counter({
      name: 'sdf_response_cache_saved_usd_total',
      help: 'US dollars the response cache saved: what each answer it gave cost when it was made, by model.',
      labelNames: ['model'],
      registers,
    }),
    responseCacheStores: new Counter({
      name: 'sdf_response_cache_stores_total',
      help: 'Model answers offered to the response cache, by outcome (stored, present, unusable, too-large, error).',
      labelNames: ['outcome'],
      registers,
    }),
    responseCacheEvictions: new Counter({
      name: 'sdf_response_cache_evictions_total',
      help: 'Entries removed from the response cache, by reason (size: its byte bound; expired: past its TTL).',
      labelNames: ['reason'],
      registers,
    }),
    responseCacheBytes: new Gauge({
      name: 'sdf_response_cache_bytes',
      help: 'Bytes the response cache charged for its entries (compressed answers, keys and Redis overhead) after this process\'s latest store.',
      registers,
    }),
    budgetRefusals: new Counter({
      name: 'sdf_budget_refusals_total',
      help: 'Model calls not made because a budget was spent, by scope (run: the run\'s cap; daily: the model\'s daily budget) and model.',
      labelNames: ['scope', 'model'],
      registers,
    }),
    batchesSubmitted: new Counter({
      name: 'sdf_batches_submitted_total',
      help: 'Gemini batches submitted by batch-mode stages, by model and input (inline requests or an uploaded JSONL file).',
      labelNames: ['model', 'input'],
      registers,
    }),
    batchesCompleted: new Counter({
      name: 'sdf_batches_completed_total',
      help: 'Gemini batches ended, by model and final state (succeeded, failed, expired, cancelled, refused).',
      labelNames: ['model', 'state'],
      registers,
    }),
    batchRequests: new Counter({
      name: 'sdf_batch_requests_total',
      help: 'Batch-mode requests by outcome: answered in a batch, failed in a batch, requeued (their batch failed, expired or was cancelled), online (re-driven online).',
      labelNames: ['model', 'outcome'],
      registers,
    }),
    tasksCompleted: new Counter({
      name: 'sdf_tasks_completed_total',
      help: 'Tasks finished, by stage and outcome (accepted, rejected, failed).',
      labelNames: ['stage', 'outcome'],
      registers,
    }),
    chatTurns: new Counter({
      name: 'sdf_chat_turns_total',
      help: 'Chat turns finished by the worker (a single-turn chat is turn 1), by stage (chat-responses answers, chat-user writes the next user message), turn (at most 20) and outcome.',
      labelNames: ['stage', 'turn', 'outcome'],
      registers,
    }),
    rejections: new Counter({
      name: 'sdf_rejections_total',
      help: 'Rejected items, by stage and reason (filter rule or pattern name).',
      labelNames: ['stage', 'reason'],
      registers,
    }),
    llmRequests: new Counter({
      name: 'sdf_llm_requests_total',
      help: 'Model requests, by model and HTTP status class (2xx, 4xx, 429, 5xx, timeout, error).',
      labelNames: ['model', 'status_class'],
      registers,
    }),
    llmRequestDuration: new Histogram({
      name: 'sdf_llm_request_duration_seconds',
      help: 'Wall time of one model request, by model.',
      labelNames: ['model'],
      buckets: LLM_DURATION_BUCKETS,
      registers,
    }),
    llmTokens: new Counter({
      name: 'sdf_llm_tokens_total',
      help: 'Tokens reported by the provider, by model and kind (prompt, cached, output, thoughts); cached tokens are part of prompt.',
      labelNames: ['model', 'kind'],
      registers,
    }),
    llmCost: new Counter({
      name: 'sdf_llm_cost_usd_total',
      help: 'Estimated spend in US dollars, by model, from the price table.',
      labelNames: ['model'],
      registers,
    }),
    llmCacheSaving: new Counter({
      name: 'sdf_llm_cache_saving_usd_total',
      help: 'Estimated US dollars saved by prompt caching (cachedContentTokenCount), by model: those tokens at the full input rate minus at the cached rate.',
      labelNames: ['model'],
      registers,
    }),
    promptCacheFallbacks: new Counter({
      name: 'sdf_prompt_cache_fallbacks_total',
      help: 'Model calls whose explicit context cache was gone (expired or deleted), sent again with the system instruction, by model.',
      labelNames: ['model'],
      registers,
    }),
    promptCacheEvents: new Counter({
      name: 'sdf_prompt_cache_events_total',
      help: 'Explicit context cache operations by the run owners: created, adopted (made by an owner that died), renewed, recreated (found gone), refused (by Gemini), deleted, failed.',
      labelNames: ['event'],
      registers,
    }),
    rateLimitWaitSeconds: new Counter({
      name: 'sdf_ratelimit_wait_seconds_total',
      help: 'Seconds spent waiting for farm-wide quota, by model.',
      labelNames: ['model'],
      registers,
    }),
    rateLimitWaits: new Counter({
      name: 'sdf_ratelimit_waits_total',
      help: 'Times a call had to wait for farm-wide quota, by model.',
      labelNames: ['model'],
      registers,
    }),
    rateLimitEffectiveRpm: new Gauge({
      name: 'sdf_ratelimit_effective_rpm',
      help: 'Requests per minute the limiter currently allows, by model (lowered after 429s).',
      labelNames: ['model'],
      registers,
    }),
    rateLimitEffectiveTpm: new Gauge({
      name: 'sdf_ratelimit_effective_tpm',
      help: 'Input tokens per minute the limiter currently allows, by model.',
      labelNames: ['model'],
      registers,
    }),
    queueJobs: new Gauge({
      name: 'sdf_queue_jobs',
      help: 'Jobs in each stage queue, by state (waiting, active, delayed, failed), from BullMQ.',
      labelNames: ['stage', 'state'],
      registers,
      async collect() {
        await collectors.queueJobs?.(this);
      },
    }),
    runs: new Gauge({
      name: 'sdf_runs',
      help: 'Runs known to the farm, by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        await collectors.runs?.(this);
      },
    }),
    inflightCalls: new Gauge({
      name: 'sdf_worker_inflight_calls',
      help: 'Model calls currently in flight in this worker process.',
      registers,
    }),
    workerConcurrency: new Gauge({
      name: 'sdf_worker_concurrency',
      help: 'Configured task concurrency of this worker process.',
      registers,
    }),
  };
}
