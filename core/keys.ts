/**
 * Every Redis key the farm owns, in one place. BullMQ's own keys live under the same prefix
 * (`<prefix>:<queue>:…`), so one prefix isolates a whole farm.
 */
export function runKeys(prefix: string, runId: string) {
  const base = `${prefix}:run:${runId}`;
  return {
    /** Hash: state, name, spec (JSON), createdAt, finishedAt, error. */
    meta: base,
    /** Hash of counters: `<stage>:enqueued|done|accepted|rejected|failed`, `<stage>:reason:<r>`, tokens. */
    stats: `${base}:stats`,
    /** Hash: per source file, the expansion cursor `{offset, sub, next}` as JSON. */
    cursors: `${base}:cursors`,
    /** Hash: per output file, the committed byte length (truncate-to-commit on restart). */
    offsets: `${base}:offsets`,
    /** Stream: task results and usage reports from workers, read and trimmed by the run's owner (RunLedger). */
    results: `${base}:results`,
    /** String with a TTL: `<ownerId>:<epoch>`, the fencing token of the producer that owns the run (RunLease). */
    owner: `${base}:owner`,
    /** Bitmap per stage: bit `index` set once that task's result is committed (1 bit per task). */
    done: (stage: string) => `${base}:done:${stage}`,
    /** String: the latest pattern-audit report (JSON) of the run's documents or chats. */
    patterns: (kind: string) => `${base}:patterns:${kind}`,
    /** Hash: accepted items carrying each active pattern (downsample mode). */
    patternCounts: (kind: string) => `${base}:patterns:${kind}:counts`,
    /** Hash: records withheld from the export by the final pattern check, id → JSON {pattern, span}. */
    withheld: (kind: string) => `${base}:withheld:${kind}`,
    /** Hash: dead-lettered tasks `<stage>:<index>` → JSON {error, attempts, input}. */
    deadLetters: `${base}:dead`,
    /** Hash: `<stage>:<index>` → times that task was re-driven (its job id's generation). */
    redrives: `${base}:redrives`,
    /** Hash: the run's explicit Gemini caches, `<cache key>` → JSON record (written by the run's owner only: PromptCacheRecords). */
    promptCaches: `${base}:prompt-caches`,
    /** Prefix of the corpus statistics of the run's documents or chats (see CorpusGate for the keys under it). */
    corpus: (kind: 'document' | 'chat') => `${base}:corpus:${kind}`,
    /** Hash: the run's budget in nano-USD (`cap`, `spent`, `reserved`), `refused` and `resume` (BudgetLedger). */
    budget: `${base}:budget`,
    /** Sorted set: the run's budget reservations of calls in flight (`<hold id>:<nano-USD>`) scored by when they expire. */
    budgetHolds: `${base}:budget:holds`,
  };
}

/**
 * A run's Batch API state (BatchStore is their one writer). Under the run's own keys, so retention
 * and `DELETE /v1/runs/:id` take them with the rest of the run.
 */
export function batchKeys(prefix: string, runId: string) {
  const base = `${prefix}:run:${runId}:batch`;
  return {
    /** Hash: request key → `<stage>:<index>|<model>|<request JSON>`, from the task's first ask until its task is committed. */
    requests: `${base}:req`,
    /** Sorted set per model: request keys waiting for a batch, scored by when they were first asked for. */
    pending: (model: string) => `${base}:pending:${model}`,
    /** What `pending(model)` appends the model to (scripts build the key from it). */
    pendingPrefix: `${base}:pending:`,
    /** Set: models that have had pending requests. */
    models: `${base}:models`,
    /** Hash: request key → batches it was sent in. */
    tries: `${base}:tries`,
    /** Hash: request key → the budget hold (JSON) reserved for it when it was added, settled when its answer is stored. */
    holds: `${base}:holds`,
    /** Hash: `<stage>:<index>` → `<job id> <request key>…`: the task's waiting job and its requests. */
    tasks: `${base}:tasks`,
    /** Hash: request key → its answer JSON ({text, finishReason} or {error}), until its task is committed. */
    answers: `${base}:ans`,
    /** Hash: batch number → its record JSON, while the batch is not consumed. */
    batches: `${base}:batches`,
    /** List per batch: the request keys it holds, until it is consumed. */
    members: (seq: number) => `${base}:members:${seq}`,
    membersPrefix: `${base}:members:`,
    /** Hash: counters (`seq`, `requests:*`, `batches:<state>`) and the note of a submission limit. */
    stats: `${base}:stats`,
  };
}

export function farmKeys(prefix: string) {
  return {
    /** Sorted set of run ids by creation time. */
    runs: `${prefix}:runs`,
    /** Set of runs the producer must drive (queued or running). */
    activeRuns: `${prefix}:runs:active`,
    /** Sorted set: producer (serve) ids scored by when their heartbeat expires; runs are shared among them. */
    producers: `${prefix}:producers`,
    idempotency: (key: string) => `${prefix}:idem:${key}`,
  };
}

/** The response cache (ResponseStore): farm-wide, content-addressed, bounded in bytes. */
export function responseCacheKeys(prefix: string) {
  const base = `${prefix}:rcache`;
  return {
    /** Prefix of the entries: `<entries><request key>`, a string with a TTL holding one deflated answer. */
    entries: `${base}:e:`,
    /** Sorted set of request keys in the order stored; score = stored-at seconds × 2^21 + bytes charged. */
    index: `${base}:index`,
    /** String: the bytes charged for every request key in the index. */
    bytes: `${base}:bytes`,
  };
}

/** The API's request rate limit (@fastify/rate-limit's Redis store appends `token:<sha256>` or `ip:<address>`). */
export function apiRateKeys(prefix: string) {
  return {
    /** Prefix of the counters: a string per token or IP with the window's TTL. */
    counters: `${prefix}:api-rate:`,
  };
}

/** The farm-wide limiter's keys for one model. */
export function limiterKeys(prefix: string, model: string) {
  const base = `${prefix}:limiter:${model}`;
  return {
    /** Sorted set: exactly one member per granted call (`<id>:<tokens>`, tokens settled to the real count) scored by its time. */
    log: `${base}:log`,
    /** String: input tokens in the window. */
    tokens: `${base}:tokens`,
    /** Hash: Pacific date (YYYY-MM-DD, on Redis's clock) → requests granted that day; only the current day is kept. */
    day: `${base}:rpd`,
    /** String with a TTL: the model is paused while it exists (after a 429). */
    pause: `${base}:pause`,
    /** Hash: the adaptive rate factor and the success streak. */
    adapt: `${base}:adapt`,
  };
}

/** The farm-wide daily budget of one model (SDF_DAILY_BUDGET_USD), counted per Pacific day. */
export function dailyBudgetKeys(prefix: string, model: string) {
  const base = `${prefix}:budget:daily:${model}`;
  return {
    /** Hash: `<YYYY-MM-DD>:spent|reserved` in nano-USD for the current Pacific day only; expires after it. */
    day: base,
    /** Sorted set: reservations of calls in flight (`<hold id>:<day>:<nano-USD>`) scored by when they expire. */
    holds: `${base}:holds`,
  };
}

/** A trait evaluation's keys (EvalStore is their one gateway; see it for who writes which). */
export function evalKeys(prefix: string, evalId: string) {
  const base = `${prefix}:eval:${evalId}`;
  return {
    /** Hash: id, name, state, spec (resolved, JSON), createdAt, startedAt, finishedAt, error, report (JSON). */
    meta: base,
    /** String with a TTL: `<ownerId>:<n>`, the lease of the serve that drives the eval. */
    owner: `${base}:owner`,
    /** Hash: probe task id → ProbeTask JSON (the owner's: the tasks it asked for). */
    probeTasks: `${base}:probe-tasks`,
    /** Hash: probe task id → the probes a worker wrote, before the held-out check (set once). */
    drafts: `${base}:drafts`,
    /** Hash: probe task id → `{kept, dropped}` once the owner has checked its drafts. */
    screened: `${base}:screened`,
    /** Hash: probe id → Probe JSON: the held-out probes (the owner's). */
    probes: `${base}:probes`,
    /** Hash: `<probe id>|<model index>` → the target's answer JSON (set once, by a worker). */
    answers: `${base}:answers`,
    /** Hash: `<probe id>|<model index>` → the judge's verdict JSON (set once, by a worker). */
    scores: `${base}:scores`,
    /** Hash: `<queue>:<task id>` → the last error of a task that gave up (set once). */
    failed: `${base}:failed`,
    /** Hash: the owner's counters (`dedupe:dropped`, `dedupe:regenerated`, …). */
    stats: `${base}:stats`,
  };
}

export function evalFarmKeys(prefix: string) {
  return {
    /** Sorted set of eval ids by creation time. */
    evals: `${prefix}:evals`,
    /** Set of evals some serve must drive (queued or running). */
    active: `${prefix}:evals:active`,
  };
}
