import type { BatchStore } from '../core/batch/batch-store.js';
import { requestKey } from '../core/gemini/request-key.js';
import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { ZERO_USAGE } from '../core/task.js';
import type { BudgetHold } from '../core/budget/budget-ledger.js';
import { geminiRequestOf, requestText, roughTokens, type CallModel, type ModelRequest } from './call-model.js';
import type { ModelReply } from './stage-context.js';
import { answersSchema } from './response-cache.js';

/**
 * The answer of a batch-mode call is not there yet: its request is pending or in a batch. The task
 * gives its slot back and comes back later without spending an attempt (the processor moves it to
 * the delayed set for `recheckMs`; the run's owner promotes it as soon as the answer is stored).
 */
export class BatchWait extends Error {
  override name = 'BatchWait';
  constructor(
    readonly model: string,
    readonly recheckMs: number,
  ) {
    super(`waiting for a batch answer from ${model}`);
  }
}

export interface BatchModeDeps {
  store: BatchStore;
  metrics: FarmMetrics;
  logger: Logger;
  /** How long a waiting task sleeps before it looks again (SDF_BATCH_RECHECK_MS). */
  recheckMs: number;
  /**
   * The budgets (workers/budget-gate.ts): a new request is queued with a hold of its worst case
   * on its run's cap and its model's daily budget, as an online call would be (a refusal parks the
   * task, as online); the run's owner settles the hold when the request's answer is stored.
   */
  budget?: {
    reserve(request: ModelRequest, estimatedInputTokens: number, options: { ttlMs: number }): Promise<{ hold: BudgetHold; release(): Promise<void> } | undefined>;
  };
}

/**
 * How long a batch request's budget hold lasts unsettled: a batch's whole life (Gemini expires a
 * batch after 48 hours) and a margin. A hold whose request is lost expires then.
 */
export const BATCH_HOLD_TTL_MS = 50 * 60 * 60 * 1000;

/**
 * Batch mode in front of the model, on the task path: a call that carries `batch` is answered
 * from its run's batch answers by its request key (core/gemini/request-key.ts, the batch
 * request's `metadata.key`), or queued for the next batch (BatchWait). Everything after the
 * answer (parsing, filters, the one result per task, its exactly-once commit) is the online path's.
 *
 * A call's answer is kept until its task is committed, so a task that runs again (a filter asked
 * for a regeneration, whose request then waited for its own batch; a retry) gets the same answers
 * for the calls it made before, for nothing: a batch answer's spend is counted once, by the run's
 * owner, when the batch's results are stored, at the batch price.
 *
 * Re-driven online, at once and at the online price: a request that failed inside its batch, or
 * whose batch failed, expired or was cancelled `SDF_BATCH_TRIES` times, and a structured request
 * whose batch answer is not JSON (online, that is a retry with a new answer; a stored answer
 * would be the same every time). A usable online answer replaces the error, so it too is paid once.
 */
export function withBatchMode(callModel: CallModel, deps: BatchModeDeps): CallModel {
  const { store, metrics, logger } = deps;
  return async (request) => {
    const batch = request.batch;
    if (!batch) return callModel(request);
    const sent = geminiRequestOf(request);
    const key = requestKey(sent, batch.slot);
    const ask = {
      key,
      task: batch.task,
      jobId: batch.jobId,
      model: request.model,
      request: { contents: sent.contents, ...(sent.systemInstruction ? { systemInstruction: sent.systemInstruction } : {}), generationConfig: sent.generationConfig },
    };
    let answer = await store.ask(batch.runId, ask, { add: !deps.budget });
    if (answer === 'unknown') {
      // A new request spends money once its batch runs: the budgets hold its worst case first,
      // until the run's owner settles it with the actual cost when the answer is stored.
      const held = await deps.budget!.reserve(request, roughTokens(requestText(request)), { ttlMs: BATCH_HOLD_TTL_MS });
      answer = await store.ask(batch.runId, ask, { add: true, ...(held ? { hold: held.hold } : {}) });
      // Added by another attempt meanwhile (with its own hold), or answered: this hold is not needed.
      if (answer !== 'added') await held?.release();
    }
    if (typeof answer === 'string') throw new BatchWait(request.model, deps.recheckMs);
    if (!('error' in answer) && answersSchema(request, answer)) {
      return { reply: { text: answer.text, finishReason: answer.finishReason, model: request.model }, usage: ZERO_USAGE };
    }
    const { batch: _batch, ...online } = request;
    const answered = await callModel(online);
    metrics.batchRequests.inc({ model: request.model, outcome: 'online' });
    if (answersSchema(request, answered.reply)) {
      await store.answerOnline(batch.runId, key, { text: answered.reply.text, finishReason: answered.reply.finishReason }).catch((err: unknown) => logger.warn({ err, runId: batch.runId }, 'keeping an online answer of a batch-mode call failed; a rerun of the task asks again'));
    }
    return answered;
  };
}


