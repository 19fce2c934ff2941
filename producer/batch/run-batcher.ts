import { join } from 'node:path';
import { Job } from 'bullmq';
import type { BatchJob, GoogleGenAI } from '@google/genai';
import { readBatchResult, resultKey } from '../../core/batch/batch-result.js';
import type { BatchAnswer, BatchRecord, BatchResultItem, BatchStore, Wake } from '../../core/batch/batch-store.js';
import type { BudgetHold, BudgetLedger } from '../../core/budget/budget-ledger.js';
import { toError } from '../../core/errors.js';
import { classifyGeminiError } from '../../core/gemini/classify-error.js';
import type { Logger } from '../../core/logger.js';
import type { FarmMetrics } from '../../core/metrics.js';
import type { StageQueues } from '../../core/queues.js';
import { FencedError, type RunLedger } from '../../core/runs/run-ledger.js';
import { isStage, type Stage } from '../../core/stages.js';
import type { TaskResult } from '../../core/task.js';
import { batchSource, findBatches, uploadInput } from './batch-input.js';
import { batchResults } from './batch-output.js';
import { submissionLimitNote } from './submission-limit.js';

export interface BatchOptions {
  /** Most requests in one batch (SDF_BATCH_MAX_REQUESTS). */
  maxRequests: number;
  /** A model's oldest pending request waits at most this long for its batch (SDF_BATCH_MAX_AGE_MS). */
  maxAgeMs: number;
  /** Larger inlined requests go as an uploaded JSONL file (SDF_BATCH_INLINE_MAX_BYTES). */
  inlineMaxBytes: number;
  /** First poll of a batch, and first wait after a refused submission; doubles up to pollMaxMs. */
  pollMinMs: number;
  pollMaxMs: number;
  /** Batches a request is sent in before it runs online (SDF_BATCH_TRIES). */
  tries: number;
}

export interface RunBatcherDeps {
  runId: string;
  /** The run's stages in batch mode. */
  stages: readonly Stage[];
  store: BatchStore;
  /** The client batches go through; without one (no key, no base URL) batch mode waits, saying why. */
  gemini: GoogleGenAI | undefined;
  queues: StageQueues;
  ledger: RunLedger;
  options: BatchOptions;
  /** USD of a batch call's tokens at the batch price; undefined when the model has no price. */
  costOf: (model: string, tokens: BatchResultItem['tokens']) => number | undefined;
  /**
   * The budgets: each request's hold (reserved by the worker that added it) is settled with its
   * actual cost when its answer is stored, or released when it goes online or is no longer wanted.
   */
  budgets?: Pick<BudgetLedger, 'settle'>;
  dataDir: string;
  metrics: FarmMetrics | undefined;
  logger: Logger;
  /** The run's fencing token while this producer owns it. */
  token: () => string | undefined;
}

/** Gemini's final batch states (the SDK's JOB_STATE_*) and what the farm calls them. */
const FINAL: Record<string, 'succeeded' | 'failed' | 'cancelled' | 'expired'> = {
  JOB_STATE_SUCCEEDED: 'succeeded',
  JOB_STATE_FAILED: 'failed',
  JOB_STATE_CANCELLED: 'cancelled',
  JOB_STATE_EXPIRED: 'expired',
};
/** Results stored per script call. */
const RESULT_CHUNK = 200;
/** Delayed jobs promoted at once when answers arrive. */
const WAKE_CONCURRENCY = 32;
/**
 * How long a wake that found its job not delayed is tried again: the job may have been running,
 * about to go to the delayed set after missing its answer by a moment.
 */
const WAKE_RETRY_MS = 5_000;
const MISSING: BatchAnswer = { error: { code: 'MISSING', message: 'the batch output has no result for this request' } };

/**
 * The Batch API side of one owned run (its owner is the only one driving its batches): fills
 * batches from the run's pending requests up to a size or an age, submits them, polls them with
 * backoff, stores their results where the waiting tasks find them, and wakes those tasks.
 *
 * Survives its process being killed anywhere. A batch is recorded `submitting`, with a display
 * name made of the run and the batch's number, before Gemini hears of it; a batch found
 * `submitting` by anyone but the process that just recorded it is looked up by that name before
 * it is sent again, so it reaches Gemini once. Results are stored (each chunk once) before the
 * batch's record is removed, so a new owner reads a finished batch again rather than lose it.
 * A batch that fails, expires or is cancelled puts its requests back to pending for the next
 * batch (up to SDF_BATCH_TRIES batches each, then they run online).
 */
export class RunBatcher {
  readonly #deps: RunBatcherDeps;
  readonly #batchStages: ReadonlySet<string>;
  /** Batches formed by this process and never sent: the only ones sent without a lookup first. */
  readonly #fresh = new Set<number>();
  /** Per model: no submission before `until` (a 429 or an error); `delayMs` doubles each time. */
  readonly #backoff = new Map<string, { until: number; delayMs: number }>();
  /** Wakes to try again (job id → stage and until when). */
  readonly #rewake = new Map<string, { stage: Stage; until: number }>();
  #ticking: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #swept = false;
  #closed = false;
  #saidNoClient = false;

  constructor(deps: RunBatcherDeps) {
    this.#deps = deps;
    this.#batchStages = new Set(deps.stages);
  }

  get runId(): string {
    return this.#deps.runId;
  }

  /** One pass: sweep leftovers (once), submit what is due, poll what is due. Never throws; one pass at a time. */
  tick(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const { gemini, logger, runId } = this.#deps;
    try {
      if (!gemini) {
        if (!this.#saidNoClient) logger.error({ runId }, 'batch mode needs a Gemini client on serve (GEMINI_API_KEY or GEMINI_BASE_URL); the run\'s batch-mode tasks wait');
        this.#saidNoClient = true;
        return;
      }
      this.#token();
      if (!this.#swept) {
        await this.#sweep();
        this.#swept = true;
      }
      await this.#submitDue(gemini);
      await this.#pollDue(gemini);
      await this.#retryWakes();
    } catch (err) {
      // A lost lease is the producer's to act on (its own writes are refused too); stop quietly.
      if (err instanceof FencedError || this.#closed) return;
      logger.error({ err: toError(err), runId }, 'batch step failed; will retry');
    }
  }

  /** Tasks were committed: their batch state (requests, answers) is no longer needed. */
  async forget(committed: TaskResult[]): Promise<void> {
    const tasks = committed.filter((r) => this.#batchStages.has(r.stage)).map((r) => `${r.stage}:${r.index}`);
    if (tasks.length > 0) await this.#release((await this.#deps.store.forget(this.#deps.runId, tasks)).holds);
  }

  /**
   * Stops after the pass in hand. If the run is over (completed, cancelled, failed), its batches
   * still at Gemini hold only requests no task wants any more: they are cancelled. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.#ticking;
      await this.#cancelIfOver().catch((err: unknown) => this.#deps.logger.warn({ err, runId: this.#deps.runId }, 'cancelling the batches of an ended run failed'));
    })();
    return this.#closing;
  }

  async #cancelIfOver(): Promise<void> {
    const { gemini, store, ledger, runId, logger } = this.#deps;
    if (!gemini) return;
    const { state } = await ledger.stateAndDoneBits(runId, []);
    if (state === 'queued' || state === 'running') return;
    for (const record of await store.records(runId)) {
      if (record.state !== 'submitted' || !record.name) continue;
      await gemini.batches.cancel({ name: record.name }).then(
        () => logger.info({ runId, batch: record.name, state }, 'run over: its batch cancelled at Gemini'),
        () => {},
      );
    }
  }

  #token(): string {
    const token = this.#deps.token();
    if (!token || this.#closed) throw new FencedError(this.#deps.runId);
    return token;
  }

  /** Drops the batch state of tasks committed while no owner could (a crash between a commit and its forget). */
  async #sweep(): Promise<void> {
    const { store, ledger, runId } = this.#deps;
    let cursor = '0';
    do {
      const page = await store.scanTasks(runId, cursor);
      cursor = page.cursor;
      const tasks = page.tasks.flatMap((t) => {
        const [stage, index] = t.split(':');
        return stage && isStage(stage) ? [{ stage, index: Number(index) }] : [];
      });
      const { bits } = await ledger.stateAndDoneBits(runId, tasks);
      const forgotten = await store.forget(
        runId,
        tasks.filter((_, i) => bits[i]).map((t) => `${t.stage}:${t.index}`),
      );
      await this.#release(forgotten.holds);
    } while (cursor !== '0');
  }

  async #submitDue(gemini: GoogleGenAI): Promise<void> {
    const { store, runId, options } = this.#deps;
    // Recorded and not (known to be) at Gemini: a dead owner's, or this owner's after a refusal.
    for (const record of await store.records(runId)) {
      if (record.state === 'submitting' && record.nextPollAt <= Date.now() && !this.#limited(record.model)) await this.#send(gemini, record);
    }
    // One new batch per model per pass: full, or its oldest request has waited long enough.
    for (const { model, count, oldestAt } of await store.pending(runId)) {
      if (this.#limited(model)) continue;
      if (count < options.maxRequests && Date.now() - oldestAt < options.maxAgeMs) continue;
      const record = await store.form(runId, this.#token(), model, options.maxRequests);
      if (!record) continue;
      this.#fresh.add(record.seq);
      await this.#send(gemini, record);
    }
  }

  #limited(model: string): boolean {
    return (this.#backoff.get(model)?.until ?? 0) > Date.now();
  }

  async #send(gemini: GoogleGenAI, record: BatchRecord): Promise<void> {
    const { store, runId, options, metrics, logger } = this.#deps;
    if (!this.#fresh.delete(record.seq)) {
      // It may have reached Gemini before its sender died or lost the answer: look before sending again.
      const found = await findBatches(gemini, record.displayName, record.createdAt);
      if (found.length > 0) {
        for (const extra of found.slice(1)) {
          logger.error({ runId, batch: extra.name, displayName: record.displayName }, 'a batch was found twice at Gemini; cancelling the later one');
          await gemini.batches.cancel({ name: extra.name! }).catch(() => {});
        }
        logger.info({ runId, batch: found[0]!.name, displayName: record.displayName }, 'batch recorded as submitting found at Gemini; not sending it again');
        return this.#submitted(record, found[0]!);
      }
    }
    const members = await store.members(runId, record.seq);
    const bodies = await store.requests(runId, members.map((m) => m.key));
    const wanted = members.filter((m) => bodies.has(m.key));
    if (wanted.length === 0) return this.#end(record, { requeue: false, error: MISSING, finalState: 'empty' });
    const source = batchSource(wanted.map((m) => ({ key: m.key, body: bodies.get(m.key)! })), options.inlineMaxBytes);
    try {
      if (source.kind === 'file' && !record.inputFile) {
        this.#token();
        record.inputFile = await uploadInput(gemini, source.jsonl, record.displayName);
        await store.setRecord(runId, this.#token(), record);
      }
      // Checked right before Gemini hears of the batch: an owner paused past its lease stops here.
      this.#token();
      const job = await gemini.batches.create({ model: record.model, src: source.kind === 'file' ? record.inputFile! : source.requests, config: { displayName: record.displayName } });
      metrics?.batchesSubmitted.inc({ model: record.model, input: source.kind });
      logger.info({ runId, batch: job.name, requests: wanted.length, input: source.kind }, 'batch submitted');
      await this.#submitted(record, job);
    } catch (err) {
      if (err instanceof FencedError) throw err;
      await this.#refused(record, err);
    }
  }

  async #submitted(record: BatchRecord, job: BatchJob): Promise<void> {
    const { store, runId, options } = this.#deps;
    Object.assign(record, { state: 'submitted', name: job.name, remoteState: job.state, polls: 0, nextPollAt: Date.now() + options.pollMinMs });
    await store.setRecord(runId, this.#token(), record);
    if (this.#backoff.delete(record.model)) await store.noteLimit(runId, record.model, undefined);
  }

  /** Gemini refused the batch (or its upload): 4xx other than 429 ends it (its requests run online); else back off. */
  async #refused(record: BatchRecord, err: unknown): Promise<void> {
    const { store, runId, options, logger } = this.#deps;
    const kind = classifyGeminiError(err);
    if (kind.kind === 'fatal') {
      logger.error({ runId, err: toError(err), displayName: record.displayName }, 'Gemini refused a batch; its requests run online');
      return this.#end(record, { requeue: false, error: { error: { code: kind.status, message: `batch refused: ${kind.message}`.slice(0, 500) } }, finalState: 'refused' });
    }
    const previous = this.#backoff.get(record.model)?.delayMs;
    // A 429 without RetryInfo (a batch enqueue or spend limit) names no delay: back off on our own.
    const delayMs = kind.kind === 'rate-limited' && kind.retryAfterMs !== undefined ? kind.retryAfterMs : Math.min(options.pollMaxMs, previous ? previous * 2 : options.pollMinMs);
    const until = Date.now() + delayMs;
    this.#backoff.set(record.model, { until, delayMs });
    // A 429 is an answer: Gemini did not take the batch, so the next try needs no look-up first.
    if (kind.kind === 'rate-limited') this.#fresh.add(record.seq);
    record.nextPollAt = until;
    await store.setRecord(runId, this.#token(), record);
    if (kind.kind === 'rate-limited') await store.noteLimit(runId, record.model, submissionLimitNote(record.model, kind, until));
    logger.warn({ runId, err: toError(err), model: record.model, retryInMs: delayMs }, 'batch submission refused; backing off');
  }

  async #pollDue(gemini: GoogleGenAI): Promise<void> {
    const { store, runId, options, logger } = this.#deps;
    for (const record of await store.records(runId)) {
      if (record.state !== 'submitted' || record.nextPollAt > Date.now()) continue;
      let job: BatchJob;
      try {
        job = await gemini.batches.get({ name: record.name! });
      } catch (err) {
        if ((err as { status?: unknown }).status === 404) {
          logger.error({ runId, batch: record.name }, 'batch gone from Gemini; its requests go back to pending');
          await this.#end(record, { requeue: true, error: { error: { code: 404, message: 'batch gone from Gemini' } }, finalState: 'failed' });
          continue;
        }
        logger.warn({ runId, err: toError(err), batch: record.name }, 'polling a batch failed; will poll again');
        record.nextPollAt = Date.now() + this.#pollDelay(record.polls++);
        await store.setRecord(runId, this.#token(), record);
        continue;
      }
      const final = FINAL[job.state ?? ''];
      if (!final) {
        record.remoteState = job.state;
        record.nextPollAt = Date.now() + this.#pollDelay(++record.polls);
        await store.setRecord(runId, this.#token(), record);
        continue;
      }
      record.remoteState = job.state;
      if (final === 'succeeded') {
        try {
          await this.#collect(gemini, record, job);
        } catch (err) {
          if (err instanceof FencedError) throw err;
          // Chunks stored so far stay stored (and are skipped next time); read the rest later.
          logger.warn({ runId, err: toError(err), batch: record.name }, 'reading a finished batch\'s results failed; will read them again');
          record.nextPollAt = Date.now() + this.#pollDelay(record.polls++);
          await store.setRecord(runId, this.#token(), record);
          continue;
        }
        await this.#end(record, { requeue: false, error: MISSING, finalState: final });
      } else {
        const why = `batch ended ${final}${job.error?.message ? ` (${job.error.message})` : ''} in each of ${options.tries} tries`;
        logger.warn({ runId, batch: record.name, state: job.state, error: job.error?.message }, 'batch ended without results; its requests go back to pending');
        await this.#end(record, { requeue: true, error: { error: { code: job.state ?? final, message: why.slice(0, 500) } }, finalState: final });
      }
    }
  }

  #pollDelay(polls: number): number {
    const { pollMinMs, pollMaxMs } = this.#deps.options;
    return Math.min(pollMaxMs, pollMinMs * 2 ** Math.min(polls, 30));
  }

  /** Stores a succeeded batch's results, chunk by chunk, and wakes the tasks they answer. */
  async #collect(gemini: GoogleGenAI, record: BatchRecord, job: BatchJob): Promise<void> {
    const { store, runId, dataDir, costOf, metrics, logger } = this.#deps;
    const { model } = record;
    const stages = new Map((await store.members(runId, record.seq)).map((m) => [m.key, m.stage]));
    let chunk = 0;
    let unknown = 0;
    for await (const raws of batchResults(gemini, job, join(dataDir, runId, 'batches'), RESULT_CHUNK)) {
      const items: BatchResultItem[] = [];
      for (const raw of raws) {
        const key = resultKey(raw);
        const stage = key ? stages.get(key) : undefined;
        if (key && stage) items.push(readBatchResult(raw, key, stage, model, (tokens) => costOf(model, tokens)));
        else unknown++;
      }
      const { applied, wakes, stored, holds } = await store.answer(runId, this.#token(), record.seq, chunk, model, items);
      if (applied) await this.#settle(record, chunk, items, stored, holds);
      chunk++;
      if (applied && metrics) {
        for (const it of items) {
          metrics.llmTokens.inc({ model, kind: 'prompt' }, it.tokens.promptTokens);
          metrics.llmTokens.inc({ model, kind: 'output' }, it.tokens.outputTokens);
          metrics.llmTokens.inc({ model, kind: 'thoughts' }, it.tokens.thoughtsTokens);
          if (it.costUsd) metrics.llmCost.inc({ model }, it.costUsd);
        }
        for (const i of stored) metrics.batchRequests.inc({ model, outcome: 'error' in items[i]!.answer ? 'failed' : 'answered' });
      }
      await this.#wake(wakes);
    }
    // Keys are only ever the farm's own (this batch's members, or ones a crash left out of the map).
    if (unknown > 0) logger.warn({ runId, batch: record.name, unknown }, 'batch results with no known request key were skipped');
  }

  /**
   * Budgets, after a chunk is stored (a crash between the two leaves its holds to expire and its
   * spend out of the cap's count, never counted twice; the run's cost counters have it exactly):
   * each stored answer settles its request's hold with its cost (an error: 0, its online call
   * reserves anew); results no request wanted any more are still spend, counted without a hold.
   */
  async #settle(record: BatchRecord, chunk: number, items: BatchResultItem[], stored: number[], holds: (BudgetHold | undefined)[]): Promise<void> {
    const { budgets, runId } = this.#deps;
    if (!budgets) return;
    const holdOf = new Map(stored.map((i, j) => [i, holds[j]]));
    await Promise.all([...holdOf].map(([i, hold]) => hold && budgets.settle(hold, items[i]!.costUsd)));
    const unheld = items.reduce((usd, it, i) => usd + (holdOf.get(i) ? 0 : it.costUsd), 0);
    if (unheld > 0) await budgets.settle({ id: `batch-${record.seq}-${chunk}`, nano: 0, runId, runHeld: false, model: record.model, day: undefined }, unheld);
  }

  async #release(holds: BudgetHold[]): Promise<void> {
    const { budgets } = this.#deps;
    if (budgets) await Promise.all(holds.map((hold) => budgets.settle(hold, 0)));
  }

  async #end(record: BatchRecord, outcome: { requeue: boolean; error: BatchAnswer; finalState: string }): Promise<void> {
    const { store, runId, options, metrics } = this.#deps;
    const ended = await store.finish(runId, this.#token(), record, { ...outcome, maxTries: options.tries });
    await this.#release(ended.holds);
    metrics?.batchesCompleted.inc({ model: record.model, state: outcome.finalState });
    if (ended.requeued) metrics?.batchRequests.inc({ model: record.model, outcome: 'requeued' }, ended.requeued);
    if (ended.failed) metrics?.batchRequests.inc({ model: record.model, outcome: 'failed' }, ended.failed);
    await this.#wake(ended.wakes);
  }

  /**
   * Promotes the answered tasks' delayed jobs. A job that is not delayed is running: it may find
   * its answer, or have just missed it and be on its way to the delayed set, so it is tried again
   * for a few seconds (past that, it looks again on its own after SDF_BATCH_RECHECK_MS).
   */
  async #wake(wakes: Wake[]): Promise<void> {
    const { queues } = this.#deps;
    for (let i = 0; i < wakes.length; i += WAKE_CONCURRENCY) {
      await Promise.all(
        wakes.slice(i, i + WAKE_CONCURRENCY).map(async ({ stage, jobId }) => {
          try {
            const job = await Job.fromId(queues[stage], jobId);
            if (job) await job.promote();
            this.#rewake.delete(jobId);
          } catch {
            if (!this.#rewake.has(jobId)) this.#rewake.set(jobId, { stage, until: Date.now() + WAKE_RETRY_MS });
          }
        }),
      );
    }
  }

  async #retryWakes(): Promise<void> {
    const now = Date.now();
    const due: Wake[] = [];
    for (const [jobId, { stage, until }] of this.#rewake) {
      if (until < now) this.#rewake.delete(jobId);
      else due.push({ stage, jobId });
    }
    await this.#wake(due);
  }
}
