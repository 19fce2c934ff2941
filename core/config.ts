/**
 * Every environment variable the farm reads, with its default, in one place. The README's
 * configuration table is generated from ENV_DOCS (`sdf-farm config --markdown`), so the two
 * cannot drift. Parsed once per process; bad values throw naming the variable.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { parseTokenFile } from './auth/token-file.js';
import { parseLimits } from './limiter/model-limits.js';
import { loadPriceTable } from './cost/price-file.js';
import { parseDailyBudgets, type DailyBudgets } from './budget/daily-budgets.js';

export interface FarmConfig {
  redisUrl: string;
  /** Key prefix for every Redis key and BullMQ queue, so farms (and tests) can share a Redis. */
  prefix: string;
  geminiApiKey: string | undefined;
  geminiBaseUrl: string | undefined;
  port: number;
  host: string;
  /** WORKER_METRICS_PORT, else PORT, else 9464 (`sdf-farm worker --metrics-port`/`--port` set it over both). */
  workerMetricsPort: number;
  dataDir: string;
  /** Most tasks one worker process holds at once, all stage queues together. */
  workerConcurrency: number;
  /** Most tasks of one run queued or running at once, all stages together. */
  runWindow: number;
  taskAttempts: number;
  requestTimeoutMs: number;
  logLevel: string;
  promptsDir: string | undefined;
  limits: string | undefined;
  /** Price override file (YAML or JSON) merged over the default price table. */
  pricesFile: string | undefined;
  /** The farm limiter's sliding window (RPM and TPM count within it): a minute plus a margin. */
  limiterWindowMs: number;
  /** SDF_API_TOKEN: one API token of role admin. */
  apiToken: string | undefined;
  /** SDF_API_TOKENS_FILE: a file of API tokens with roles, re-read when it changes. */
  apiTokensFile: string | undefined;
  /** How long a worker's claim on a task lasts without renewal (renewed while it runs). */
  lockDurationMs: number;
  /** How often workers look for tasks whose worker died. */
  stalledIntervalMs: number;
  /** How long a run's lease lasts without renewal; another `serve` takes the run over after it. */
  producerLockTtlMs: number;
  /** Times a task's worker may die under it before the task is dead-lettered. */
  maxStalledCount: number;
  /** fdatasync run files before their lengths are committed. */
  fsync: boolean;
  /** Seconds a finished run's working state stays in Redis (0: removed when it ends). */
  runRetentionS: number;
  /** A run with no commit for this long is reconciled against BullMQ. */
  reconcileIntervalMs: number;
  /**
   * How long a process stopping on SIGTERM/SIGINT waits for an unanswering Redis before it gives
   * up draining and exits 1: without it, a drain blocked on Redis waits out the whole grace period.
   */
  shutdownRedisTimeoutMs: number;
  /** How long a stored model answer stays in the response cache. */
  responseCacheTtlS: number;
  /** Most bytes the response cache may hold in Redis, all runs together (0: no cache). */
  responseCacheMaxBytes: number;
  /** USD each listed model may spend per Pacific day, farm-wide (SDF_DAILY_BUDGET_USD). */
  dailyBudgetUsd: DailyBudgets;
  /** Batch mode (see producer/batch/): the most requests in one batch. */
  batchMaxRequests: number;
  /** Batch mode: the longest a request waits for its batch to fill before the batch is sent anyway. */
  batchMaxAgeMs: number;
  /** Batch mode: a batch whose inlined requests are larger than this goes as an uploaded JSONL file. */
  batchInlineMaxBytes: number;
  /** Batch mode: first wait between two polls of a batch (and after a refused submission); doubles up to batchPollMaxMs. */
  batchPollMinMs: number;
  batchPollMaxMs: number;
  /** Batch mode: how long a task waiting for its batch answer sleeps before it looks again (it is woken sooner when its answer arrives). */
  batchRecheckMs: number;
  /** Batch mode: batches a request is sent in (a failed, expired or cancelled batch puts its requests back) before it runs online. */
  batchTries: number;
  /**
   * A stage's system instruction (the universe) of at least this many tokens (the farm's estimate)
   * gets an explicit Gemini cache per run and model; 0 turns explicit caching off.
   */
  explicitCacheMinTokens: number;
  /** TTL of an explicit cache, renewed while its run is active: how long one outlives a farm that died. */
  explicitCacheTtlS: number;
}

export interface EnvDoc {
  name: string;
  default: string;
  description: string;
}

export const ENV_DOCS: readonly EnvDoc[] = [
  { name: 'REDIS_URL', default: 'redis://127.0.0.1:6379', description: 'Redis holding queues, run state and shared statistics.' },
  { name: 'SDF_PREFIX', default: 'sdf', description: 'Prefix of every Redis key and queue; farms sharing one Redis need different prefixes.' },
  { name: 'GEMINI_API_KEY', default: '(unset)', description: 'Real Gemini key. Unset: the SDK is pointed at the simulator.' },
  { name: 'GEMINI_BASE_URL', default: '(unset)', description: 'Base URL for the SDK, e.g. a simulator started elsewhere (`http://sim:8090`).' },
  { name: 'PORT', default: '8080', description: 'API port (`serve`, `run`); 0 picks a free port. The address is logged. A `worker` serves its metrics on it when `WORKER_METRICS_PORT` is unset.' },
  { name: 'HOST', default: '127.0.0.1', description: 'Interface the API and metrics servers bind to (`0.0.0.0` in containers).' },
  { name: 'WORKER_METRICS_PORT', default: '9464', description: 'Port of a worker process\'s `/metrics`, `/healthz` and `/readyz`; 0 picks a free port. Precedence: `sdf-farm worker --metrics-port` or `--port`, then `WORKER_METRICS_PORT`, then `PORT`, then 9464.' },
  { name: 'DATA_DIR', default: './data', description: 'Where the producer writes each run\'s outputs (`DATA_DIR/<runId>/`).' },
  { name: 'WORKER_CONCURRENCY', default: '32', description: 'Tasks one worker process holds at once (fetched, running, being acked), every stage queue together: the most model calls it keeps in flight. Free slots go to the most downstream stage with waiting work. Held tasks cost little, so for slow models (tens of seconds a call) it can be thousands.' },
  { name: 'SDF_RUN_WINDOW', default: '2000', description: 'Most tasks of one run in Redis at once; expansion waits beyond it.' },
  { name: 'SDF_TASK_ATTEMPTS', default: '5', description: 'Attempts per task before it is dead-lettered.' },
  { name: 'SDF_REQUEST_TIMEOUT_MS', default: '600000', description: 'Timeout of one model request.' },
  { name: 'SDF_LIMITS', default: '(unset)', description: 'Default quotas per model, JSON `{"<model>": {"rpm": n, "tpm": n, "rpd": n}}`; a spec\'s `limits` wins.' },
  { name: 'SDF_PRICES_FILE', default: '(unset)', description: 'YAML or JSON file of model prices (USD per million tokens) merged over the built-in table, e.g. `gemini-2.5-flash: {input: 0.3, output: 2.5}`; see the Cost section. A bad entry stops the process, naming the model and field.' },
  { name: 'SDF_LIMITER_WINDOW_MS', default: '61000', description: 'Window the farm\'s RPM and TPM limits count in: a minute plus a second, so network jitter cannot put more than a quota into one of the provider\'s minutes. Shorter only to scale a quota test down in time (`rpm` then means requests per this window).' },
  { name: 'SDF_DAILY_BUDGET_USD', default: '(unset)', description: 'Farm-wide budget per model per Pacific day, JSON `{"<model>": usd}`: each call reserves its worst-case cost against it; once spent, that model\'s calls wait for the next Pacific day (status says which). Every model listed needs a price.' },
  { name: 'PROMPTS_DIR', default: '(unset)', description: 'Folder overriding the built-in prompt templates (same layout as `prompts/`).' },
  { name: 'SDF_API_TOKEN', default: '(unset)', description: 'One API token of role `admin`: the API then requires `Authorization: Bearer <token>` (open: `/healthz`, `/readyz`, `/metrics`, `/ui`, `/docs`). With neither this nor `SDF_API_TOKENS_FILE`, `serve` and `run` refuse to listen on anything but loopback (127.0.0.0/8, ::1, localhost). See Authentication.' },
  { name: 'SDF_API_TOKENS_FILE', default: '(unset)', description: 'YAML or JSON file listing API tokens, each `{token, role, name?}` with role `read`, `submit` or `admin` (tokens of 16+ characters). Checked every second and re-read when it changes: tokens are added and revoked without a restart. A bad entry stops the process at start-up naming the entry, line and field; a bad rewrite later revokes the file\'s tokens until it is fixed. See Authentication.' },
  { name: 'SDF_LOCK_DURATION_MS', default: '60000', description: 'A worker\'s claim on a task without renewal; a killed worker\'s tasks come back after about this long.' },
  { name: 'SDF_STALLED_INTERVAL_MS', default: '30000', description: 'How often workers look for tasks whose worker died.' },
  { name: 'SDF_PRODUCER_LOCK_TTL_MS', default: '15000', description: 'A run\'s lease: the `serve` that owns a run renews it every third of this; if it stops, another `serve` takes the run over after it.' },
  { name: 'SDF_MAX_STALLED_COUNT', default: '2', description: 'Times a task\'s worker may die under it (a stall) before the task is dead-lettered.' },
  { name: 'SDF_FSYNC', default: 'batch', description: '`batch`: each commit batch\'s file writes are fdatasync\'d before their lengths are committed (survives a host crash); `off`: left to the OS (faster; a host crash can lose committed lines, which the repair path re-runs).' },
  { name: 'SDF_RUN_RETENTION_S', default: '604800', description: 'Seconds a finished run\'s working state (done bits, corpus statistics, near-duplicate index, dead letters) stays in Redis; 0 removes it when the run ends. Its record and outputs stay until `DELETE /v1/runs/:id`.' },
  { name: 'SDF_RECONCILE_INTERVAL_MS', default: '30000', description: 'A run with no commit for this long is compared with what BullMQ holds, and repaired.' },
  { name: 'SDF_SHUTDOWN_REDIS_TIMEOUT_MS', default: '5000', description: 'On SIGTERM/SIGINT, a `serve` or `worker` drains for its grace period, unless Redis has not answered for this long: then it closes what it can and exits 1, saying so (tasks in flight return to their queues when their locks expire).' },
  { name: 'SDF_RESPONSE_CACHE_TTL_S', default: '604800', description: 'Seconds a model answer stays in the response cache (a week). Identical requests in that time are answered from it without a call.' },
  { name: 'SDF_RESPONSE_CACHE_MAX_BYTES', default: '268435456', description: 'Most bytes of Redis the response cache holds, all runs together (256 MiB: compressed answers, their keys and index); the oldest answers are evicted beyond it. Leave room for it in Redis\'s `maxmemory`. 0 turns the cache off for the farm.' },
  { name: 'SDF_BATCH_MAX_REQUESTS', default: '1000', description: 'Batch mode: most requests in one Gemini batch. A batch is sent when it has this many requests or its oldest request is `SDF_BATCH_MAX_AGE_MS` old. A run never has more than `SDF_RUN_WINDOW` tasks waiting, so raise both for large batches.' },
  { name: 'SDF_BATCH_MAX_AGE_MS', default: '60000', description: 'Batch mode: longest a request waits for its batch to fill before the batch is sent anyway.' },
  { name: 'SDF_BATCH_INLINE_MAX_BYTES', default: '16777216', description: 'Batch mode: a batch whose inlined requests are larger than this is sent as an uploaded JSONL file instead (Gemini refuses inlined batches above 20 MB).' },
  { name: 'SDF_BATCH_POLL_MIN_MS', default: '10000', description: 'Batch mode: first wait before a submitted batch is polled; each poll that finds it unfinished doubles the wait, up to `SDF_BATCH_POLL_MAX_MS`. A refused submission (a 429 of the batch enqueue limit, which names no delay) backs off the same way.' },
  { name: 'SDF_BATCH_POLL_MAX_MS', default: '300000', description: 'Batch mode: longest wait between two polls of a batch, and between two attempts to submit one after a 429.' },
  { name: 'SDF_BATCH_RECHECK_MS', default: '60000', description: 'Batch mode: how long a task waiting for its batch answer sleeps before it looks again; it is woken as soon as the answer arrives, so this only bounds a missed wake-up.' },
  { name: 'SDF_BATCH_TRIES', default: '2', description: 'Batch mode: batches a request is sent in before it runs online instead (a batch that ends failed, expired or cancelled puts its requests back). A request that fails inside a batch runs online at once.' },
  { name: 'SDF_EXPLICIT_CACHE_MIN_TOKENS', default: '4096', description: 'A stage whose system instruction (the universe context) is at least this many tokens (estimated at 4 characters a token) gets one explicit Gemini context cache per run and model, used by every call of that stage instead of resending it. 4096 is the largest minimum Gemini accepts for a cache on current models (1,024 to 4,096 by model); below it implicit caching still applies. 0 turns explicit caching off.' },
  { name: 'SDF_EXPLICIT_CACHE_TTL_S', default: '600', description: 'TTL of an explicit cache. The run\'s owner renews it every quarter of this, or every minute if that is sooner, while the run is active and deletes it when the run ends, so if every `serve` dies a cache is billed at most this long past its run.' },
  { name: 'LOG_LEVEL', default: 'info', description: 'pino log level: trace, debug, info, warn, error, fatal, silent.' },
];

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name}: must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** Read and checked at start-up, like SDF_LIMITS: a bad price file stops the process naming the model and field. */
function validPricesFile(path: string | undefined): string | undefined {
  loadPriceTable(path);
  return path;
}

/** Read and checked at start-up: a bad token file stops the process naming the entry, line and field. */
function validTokensFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`SDF_API_TOKENS_FILE ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  parseTokenFile(text, path);
  return path;
}

/** Checked at start-up so a typo in SDF_LIMITS stops the process with the field named. */
function validLimits(json: string | undefined): string | undefined {
  parseLimits(json);
  return json;
}

function fsyncMode(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'batch') return true;
  if (raw === 'off') return false;
  throw new ConfigError(`SDF_FSYNC: must be "batch" or "off", got "${raw}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): FarmConfig {
  const prefix = env.SDF_PREFIX || 'sdf';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new ConfigError(`SDF_PREFIX: only letters, digits, _ and - allowed, got "${prefix}"`);
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    prefix,
    geminiApiKey: optional(env, 'GEMINI_API_KEY'),
    geminiBaseUrl: optional(env, 'GEMINI_BASE_URL'),
    port: intVar(env, 'PORT', 8080),
    host: env.HOST || '127.0.0.1',
    // The worker's only port: the README's convention is that every long-running process takes PORT.
    workerMetricsPort: intVar(env, 'WORKER_METRICS_PORT', intVar(env, 'PORT', 9464)),
    dataDir: env.DATA_DIR || './data',
    workerConcurrency: intVar(env, 'WORKER_CONCURRENCY', 32, 1),
    runWindow: intVar(env, 'SDF_RUN_WINDOW', 2000, 1),
    taskAttempts: intVar(env, 'SDF_TASK_ATTEMPTS', 5, 1),
    requestTimeoutMs: intVar(env, 'SDF_REQUEST_TIMEOUT_MS', 600_000, 1),
    logLevel: env.LOG_LEVEL || 'info',
    promptsDir: optional(env, 'PROMPTS_DIR'),
    limits: validLimits(optional(env, 'SDF_LIMITS')),
    pricesFile: validPricesFile(optional(env, 'SDF_PRICES_FILE')),
    limiterWindowMs: intVar(env, 'SDF_LIMITER_WINDOW_MS', 61_000, 100),
    apiToken: optional(env, 'SDF_API_TOKEN'),
    apiTokensFile: validTokensFile(optional(env, 'SDF_API_TOKENS_FILE')),
    lockDurationMs: intVar(env, 'SDF_LOCK_DURATION_MS', 60_000, 1000),
    stalledIntervalMs: intVar(env, 'SDF_STALLED_INTERVAL_MS', 30_000, 1000),
    producerLockTtlMs: intVar(env, 'SDF_PRODUCER_LOCK_TTL_MS', 15_000, 1000),
    maxStalledCount: intVar(env, 'SDF_MAX_STALLED_COUNT', 2),
    fsync: fsyncMode(env.SDF_FSYNC),
    runRetentionS: intVar(env, 'SDF_RUN_RETENTION_S', 604_800),
    reconcileIntervalMs: intVar(env, 'SDF_RECONCILE_INTERVAL_MS', 30_000, 100),
    shutdownRedisTimeoutMs: intVar(env, 'SDF_SHUTDOWN_REDIS_TIMEOUT_MS', 5_000, 100),
    responseCacheTtlS: intVar(env, 'SDF_RESPONSE_CACHE_TTL_S', 604_800, 1),
    responseCacheMaxBytes: intVar(env, 'SDF_RESPONSE_CACHE_MAX_BYTES', 268_435_456),
    dailyBudgetUsd: parseDailyBudgets(optional(env, 'SDF_DAILY_BUDGET_USD')),
    batchMaxRequests: intVar(env, 'SDF_BATCH_MAX_REQUESTS', 1000, 1),
    batchMaxAgeMs: intVar(env, 'SDF_BATCH_MAX_AGE_MS', 60_000),
    batchInlineMaxBytes: intVar(env, 'SDF_BATCH_INLINE_MAX_BYTES', 16 * 1024 * 1024),
    batchPollMinMs: intVar(env, 'SDF_BATCH_POLL_MIN_MS', 10_000, 10),
    batchPollMaxMs: intVar(env, 'SDF_BATCH_POLL_MAX_MS', 300_000, 10),
    batchRecheckMs: intVar(env, 'SDF_BATCH_RECHECK_MS', 60_000, 10),
    batchTries: intVar(env, 'SDF_BATCH_TRIES', 2, 1),
    explicitCacheMinTokens: intVar(env, 'SDF_EXPLICIT_CACHE_MIN_TOKENS', 4096),
    explicitCacheTtlS: intVar(env, 'SDF_EXPLICIT_CACHE_TTL_S', 600, 1),
  };
}
