import type { BatchInput, BatchItem } from './batch-input.js';
import { FaultSchedule } from './fault-schedule.js';
import type { FileStore } from './file-store.js';
import type { Generator } from './generate.js';
import { failure, isFailure, rpcStatus, type ApiFailure } from './http.js';
import type { SimMetrics } from './metrics.js';
import type { SimOptions } from './options.js';
import { resourceId } from './resource-id.js';

export const BATCH_STATES = ['BATCH_STATE_PENDING', 'BATCH_STATE_RUNNING', 'BATCH_STATE_SUCCEEDED', 'BATCH_STATE_FAILED', 'BATCH_STATE_CANCELLED', 'BATCH_STATE_EXPIRED'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

type RpcStatus = ReturnType<typeof rpcStatus>;

/** One result: a GenerateContentResponse or a `google.rpc.Status`, with what identifies its request. */
interface BatchResult {
  response?: unknown;
  error?: RpcStatus;
  metadata?: Record<string, unknown>;
  key?: unknown;
}

export interface Batch {
  /** `batches/{id}`. */
  name: string;
  id: string;
  /** The model id, as in the path (`gemini-2.5-flash`). */
  model: string;
  displayName: string;
  fileName?: string;
  seq: number;
  createMs: number;
  updateMs: number;
  endMs?: number;
  state: BatchState;
  requestCount: number;
  /** Input tokens of its requests, counted at creation when batchEnqueuedTokensLimit is set (else 0). */
  inputTokens: number;
  succeeded: number;
  failed: number;
  /** Submitted requests not answered yet (emptied when the batch ends). */
  items: BatchItem[];
  results: BatchResult[];
  /** Set when it succeeded: the inline results, or the name of the results file. */
  output?: { inlinedResponses: { inlinedResponses: BatchResult[] } } | { responsesFile: string };
  error?: RpcStatus;
  /** Cancelled or deleted: stop answering. */
  stopped: boolean;
  timer?: NodeJS.Timeout;
}

export interface BatchStats {
  /** Batches accepted since the simulator started. */
  created: number;
  /** Requests submitted in those batches. */
  submitted: number;
  /** Batches that exist now (not deleted), by state. */
  states: Partial<Record<BatchState, number>>;
  /**
   * Requests answered inside batches, by model and code ('200' for a response, else the HTTP code
   * of the error). Never counted in the online `requests`: together they are every model call.
   */
  requests: Record<string, Record<string, number>>;
}

const TERMINAL = new Set<BatchState>(['BATCH_STATE_SUCCEEDED', 'BATCH_STATE_FAILED', 'BATCH_STATE_CANCELLED', 'BATCH_STATE_EXPIRED']);
/** Requests answered per turn of the event loop, so a big batch never stalls online requests. */
const ANSWERS_PER_TURN = 25;
const INJECTED_FAILURE = failure(500, 'INTERNAL', 'An internal error has occurred.');
/** Gemini's answer when a limit other than a per-minute one is hit: no RetryInfo, only a Help link. */
const ENQUEUED_TOKENS_EXCEEDED = failure(
  429,
  'RESOURCE_EXHAUSTED',
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. ',
  [{ '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] }],
);

/**
 * The Batch API's batches, in memory. A batch is PENDING for the first half of `batchDelayMs`,
 * then RUNNING while its requests are answered by the very generation path online requests take
 * (no quota, no transport faults, no latency: batch traffic is not online traffic), then ends as
 * `batchOutcome` says, no sooner than `batchDelayMs` after creation. `batchRequestErrorRate` of the
 * requests, spread evenly, are answered with an INTERNAL error instead.
 */
export class Batches {
  readonly #batches = new Map<string, Batch>();
  readonly #answered: Record<string, Record<string, number>> = {};
  readonly #failures: FaultSchedule;
  #seq = 0;
  #submitted = 0;

  constructor(
    readonly options: SimOptions,
    readonly generator: Generator,
    readonly files: FileStore,
    readonly metrics: SimMetrics,
  ) {
    this.#failures = new FaultSchedule(options.seed ^ 0x0ba7c4);
  }

  /** A new PENDING batch, or the 429 of the enqueued-tokens limit. */
  create(model: string, input: BatchInput, now = Date.now()): Batch | ApiFailure {
    const limit = this.options.batchEnqueuedTokensLimit;
    const inputTokens = limit > 0 ? input.items.reduce((sum, item) => sum + (item.request ? this.generator.countTokens(item.request) : 0), 0) : 0;
    if (limit > 0 && this.#enqueuedTokens(model) + inputTokens > limit) return ENQUEUED_TOKENS_EXCEEDED;
    const id = resourceId(36);
    const batch: Batch = {
      name: `batches/${id}`,
      id,
      model,
      displayName: input.displayName,
      ...(input.fileName ? { fileName: input.fileName } : {}),
      seq: ++this.#seq,
      createMs: now,
      updateMs: now,
      state: 'BATCH_STATE_PENDING',
      requestCount: input.items.length,
      inputTokens,
      succeeded: 0,
      failed: 0,
      items: input.items,
      results: [],
      stopped: false,
    };
    this.#batches.set(id, batch);
    this.#submitted += batch.requestCount;
    batch.timer = setTimeout(() => this.#run(batch), this.options.batchDelayMs / 2).unref();
    return batch;
  }

  get(id: string): Batch | undefined {
    return this.#batches.get(id);
  }

  /** Every batch, newest first. */
  list(): Batch[] {
    return [...this.#batches.values()].reverse();
  }

  /** Cancels a batch that has not ended: it ends CANCELLED at once, with no results. */
  cancel(id: string, now = Date.now()): Batch | ApiFailure | undefined {
    const batch = this.#batches.get(id);
    if (!batch) return undefined;
    if (TERMINAL.has(batch.state)) return failure(400, 'FAILED_PRECONDITION', `Batch ${batch.name} has already ended (${batch.state}) and cannot be cancelled.`);
    this.#end(batch, 'BATCH_STATE_CANCELLED', now, { code: 1, message: 'The batch was cancelled.' });
    return batch;
  }

  /** Deletes a batch (a running one stops); its results file, if any, stays in the Files API. */
  delete(id: string): boolean {
    const batch = this.#batches.get(id);
    if (!batch) return false;
    batch.stopped = true;
    clearTimeout(batch.timer);
    this.#batches.delete(id);
    return true;
  }

  stats(): BatchStats {
    const states: BatchStats['states'] = {};
    for (const batch of this.#batches.values()) states[batch.state] = (states[batch.state] ?? 0) + 1;
    return { created: this.#seq, submitted: this.#submitted, states, requests: structuredClone(this.#answered) };
  }

  #enqueuedTokens(model: string): number {
    let sum = 0;
    for (const batch of this.#batches.values()) if (batch.model === model && !TERMINAL.has(batch.state)) sum += batch.inputTokens;
    return sum;
  }

  close(): void {
    for (const batch of this.#batches.values()) {
      batch.stopped = true;
      clearTimeout(batch.timer);
    }
  }

  /** RUNNING: answers the requests a few at a time, then ends the batch when its delay is up. */
  #run(batch: Batch): void {
    if (batch.stopped) return;
    batch.state = 'BATCH_STATE_RUNNING';
    batch.updateMs = Date.now();
    const turn = () => {
      if (batch.stopped) return;
      for (let n = 0; n < ANSWERS_PER_TURN && batch.results.length < batch.requestCount; n++) this.#answer(batch, batch.items[batch.results.length]!);
      batch.updateMs = Date.now();
      if (batch.results.length < batch.requestCount) return void setImmediate(turn);
      const remaining = batch.createMs + this.options.batchDelayMs - Date.now();
      batch.timer = setTimeout(() => this.#finish(batch), Math.max(0, remaining)).unref();
    };
    turn();
  }

  #answer(batch: Batch, item: BatchItem): void {
    const id = { ...(item.metadata ? { metadata: item.metadata } : {}), ...(item.key === undefined ? {} : { key: item.key }) };
    let outcome: unknown;
    // FaultSchedule spreads a rate evenly; its '5xx' kind stands for "this request fails".
    if (item.invalid) outcome = item.invalid;
    else if (this.#failures.next({ '429': 0, '5xx': this.options.batchRequestErrorRate, timeout: 0 }) === '5xx') outcome = INJECTED_FAILURE;
    else {
      const prompt = this.generator.prompt(batch.model, item.request);
      outcome = isFailure(prompt) ? prompt : this.generator.answer(prompt, this.generator.random(prompt));
    }
    const code = isFailure(outcome) ? String(outcome.code) : '200';
    const byModel = (this.#answered[batch.model] ??= {});
    byModel[code] = (byModel[code] ?? 0) + 1;
    this.metrics.batchRequests.inc({ model: batch.model, code });
    if (isFailure(outcome)) {
      batch.failed++;
      batch.results.push({ error: rpcStatus(outcome), ...id });
    } else {
      batch.succeeded++;
      batch.results.push({ response: outcome, ...id });
    }
  }

  #finish(batch: Batch): void {
    if (batch.stopped) return;
    const now = Date.now();
    switch (this.options.batchOutcome) {
      case 'failed':
        return this.#end(batch, 'BATCH_STATE_FAILED', now, { code: 13, message: 'The batch failed: an internal error occurred while processing it.' });
      case 'expired':
        return this.#end(batch, 'BATCH_STATE_EXPIRED', now, { code: 4, message: 'The batch expired: it was pending or running for more than 48 hours.' });
      case 'succeeded':
        break;
    }
    if (batch.fileName) {
      // The results file: one line per request, in request order, each with its request's key.
      const lines = batch.results.map((r) => JSON.stringify(r.error ? { error: r.error, ...(r.key === undefined ? {} : { key: r.key }) } : { response: r.response, ...(r.key === undefined ? {} : { key: r.key }) }));
      const file = this.files.add({ id: `batch-${batch.id}`, mimeType: 'application/jsonl', bytes: Buffer.from(lines.join('\n') + '\n'), source: 'GENERATED' }, now);
      batch.output = { responsesFile: file.name };
    } else {
      batch.output = { inlinedResponses: { inlinedResponses: batch.results.map(({ key: _key, ...r }) => r) } };
    }
    this.#end(batch, 'BATCH_STATE_SUCCEEDED', now);
  }

  #end(batch: Batch, state: BatchState, now: number, error?: RpcStatus): void {
    clearTimeout(batch.timer);
    batch.stopped = true;
    batch.state = state;
    batch.updateMs = now;
    batch.endMs = now;
    if (error) batch.error = error;
    // What is left to keep is the output (if any): the requests and interim results go.
    batch.items = [];
    batch.results = [];
  }
}

/**
 * A batch as the long-running operation Gemini returns for create, get and list: state, stats and
 * output under `metadata` (where the SDK reads them), the output again under `response` once it
 * succeeded, `done` once it ended, `error` when it failed, expired or was cancelled. Counts are
 * int64, which protobuf JSON writes as strings; zero counts are omitted, as Gemini omits them.
 */
export function batchOperation(batch: Batch) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const processed = batch.succeeded + batch.failed;
  const pending = TERMINAL.has(batch.state) ? 0 : batch.requestCount - processed;
  const counts = { requestCount: batch.requestCount, successfulRequestCount: batch.succeeded, failedRequestCount: batch.failed, pendingRequestCount: pending };
  const batchStats = Object.fromEntries(Object.entries(counts).flatMap(([k, v]) => (v > 0 ? [[k, String(v)]] : [])));
  const done = TERMINAL.has(batch.state);
  return {
    name: batch.name,
    metadata: {
      '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
      model: `models/${batch.model}`,
      displayName: batch.displayName,
      ...(batch.fileName ? { inputConfig: { fileName: batch.fileName } } : {}),
      ...(batch.output ? { output: batch.output } : {}),
      createTime: iso(batch.createMs),
      updateTime: iso(batch.updateMs),
      ...(batch.endMs !== undefined ? { endTime: iso(batch.endMs) } : {}),
      batchStats,
      state: batch.state,
      name: batch.name,
    },
    ...(done ? { done: true } : {}),
    ...(batch.error ? { error: batch.error } : {}),
    ...(batch.output ? { response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput', ...batch.output } } : {}),
  };
}
