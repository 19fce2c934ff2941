import type { Content, GoogleGenAI } from '@google/genai';
import type { AnswerSlot, KeyedRequest } from '../core/gemini/request-key.js';
import type { ModelLimits } from '../core/limiter/model-limits.js';
import type { FarmMetrics } from '../core/metrics.js';
import type { ChatMessage, Usage } from '../core/task.js';
import type { ModelReply } from './stage-context.js';

export interface ModelRequest {
  model: string;
  system?: string;
  /** Multi-turn chats: the exchanges before `user`, sent as earlier `contents` (assistant → `model`). */
  history?: ChatMessage[];
  user: string;
  temperature: number;
  maxOutputTokens: number;
  /** JSON schema: asks for `application/json` output shaped by it. */
  schema?: Record<string, unknown>;
  /** Farm-wide quota of this model for this run; absent = unlimited. */
  limits?: ModelLimits;
  /** The answer's slot for the response cache (workers/response-cache.ts); absent = not cached. */
  cache?: AnswerSlot;
  /** The run the call is made for: its budget pays for it. Not part of the request sent. */
  runId?: string;
  /** Set when the call's stage runs in batch mode: the call goes through the run's batches (workers/batch-mode.ts). */
  batch?: BatchCall;
  /**
   * An explicit cache holding `system` (workers/call-with-prompt-cache.ts): named instead of
   * sending it. Not part of the request's key: the request asked is the same.
   */
  cachedContent?: string;
}

/** Who is asking, for a batch-mode call: the run, the task (`<stage>:<index>`), its job (woken when the answer arrives) and the answer's slot. */
export interface BatchCall {
  runId: string;
  task: string;
  jobId: string;
  slot: AnswerSlot;
}

export interface CallModelDeps {
  gemini: GoogleGenAI;
  metrics: FarmMetrics;
  /** Waits for farm-wide quota before the call and settles it after; absent = unlimited. */
  quota?: {
    acquire(model: string, estimatedTokens: number, limits?: ModelLimits): Promise<{ settle(actualTokens: number): Promise<void> | void }>;
  };
  /** Reserves the call's worst-case cost against its run's and its model's budgets (workers/budget-gate.ts); absent = no budgets. */
  budget?: {
    reserve(request: ModelRequest, estimatedInputTokens: number): Promise<{ settle(costUsd: number): Promise<void>; release(): Promise<void> } | undefined>;
  };
  /**
   * USD for a call's usage (cached tokens at the cached rate; `batch`: the batch price); undefined
   * = the model has no price (counted as unpriced, not free). PriceTable.costOf in the farm.
   */
  costOf?: (model: string, usage: Pick<Usage, 'promptTokens' | 'outputTokens' | 'thoughtsTokens'> & { cachedTokens?: number }, options?: { batch?: boolean }) => number | undefined;
  /** Longest a call may take, answer read included (SDF_REQUEST_TIMEOUT_MS). @defaultValue 600000 */
  timeoutMs?: number;
}

/**
 * The SDK's own per-request timeout is switched off for these calls (the call's timer below
 * replaces it): @google/genai leaves that timer armed after a successful answer ("ownership of
 * the response passes to the caller"), so each call kept a Timeout, an AbortController and the
 * fetch behind them alive for the whole timeout, 10 minutes: about 1 KB a call, hundreds of MB
 * of worker RSS at a few hundred calls a second, and major GCs marking all of it.
 */
const NO_SDK_TIMEOUT = { timeout: 0 };

export type CallModel = (request: ModelRequest) => Promise<{ reply: ModelReply; usage: Usage }>;

/** Rough token count before the call (about 4 characters a token); settled with the real count after. */
export function roughTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Everything a request sends as text, for its rough token count: system instruction, earlier turns, user turn. */
export function requestText(request: Pick<ModelRequest, 'system' | 'history' | 'user'>): string {
  const history = request.history?.map((m) => m.content).join('') ?? '';
  return (request.system ?? '') + history + request.user;
}

/**
 * What is sent to Gemini for a request, in Gemini's shape: the one mapping, used for the call
 * and for its cache key (core/gemini/request-key.ts), so the key hashes exactly what is asked.
 */
export function geminiRequestOf(request: ModelRequest): KeyedRequest & {
  contents: Content[];
  systemInstruction?: string;
  generationConfig: { temperature: number; maxOutputTokens: number; responseMimeType?: string; responseJsonSchema?: unknown };
} {
  return {
    model: request.model,
    contents: [
      ...(request.history ?? []).map((m) => ({ role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }] })),
      { role: 'user', parts: [{ text: request.user }] },
    ],
    ...(request.system ? { systemInstruction: request.system } : {}),
    generationConfig: {
      temperature: request.temperature,
      maxOutputTokens: request.maxOutputTokens,
      ...(request.schema ? { responseMimeType: 'application/json', responseJsonSchema: request.schema } : {}),
    },
  };
}

/** One model call through the real SDK: quota, request, usage and metrics. Errors propagate for classification. */
export function createCallModel(deps: CallModelDeps): CallModel {
  const { gemini, metrics } = deps;
  const timeoutMs = deps.timeoutMs ?? 600_000;
  return async (request) => {
    const estimate = roughTokens(requestText(request));
    // Before the quota: a call its budget refuses takes none.
    const hold = await deps.budget?.reserve(request, estimate);
    let reservation;
    try {
      reservation = await deps.quota?.acquire(request.model, estimate, request.limits);
    } catch (err) {
      await hold?.release();
      throw err;
    }
    const stopTimer = metrics.llmRequestDuration.startTimer({ model: request.model });
    metrics.inflightCalls.inc();
    // Aborted like the SDK's own timeout does (no reason: the same AbortError, classified the same).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const sent = geminiRequestOf(request);
    let response;
    try {
      response = await gemini.models.generateContent({
        model: sent.model,
        contents: sent.contents,
        config: {
          abortSignal: deadline.signal,
          httpOptions: NO_SDK_TIMEOUT,
          ...(request.cachedContent ? { cachedContent: request.cachedContent } : sent.systemInstruction ? { systemInstruction: sent.systemInstruction } : {}),
          ...sent.generationConfig,
        },
      });
    } catch (err) {
      // The reservation keeps its estimate: a failed request still counts against the provider's quota.
      metrics.llmRequests.inc({ model: request.model, status_class: statusClass(err) });
      // Spends what the farm counts a failed request as (no tokens, no cost).
      await hold?.release();
      throw err;
    } finally {
      clearTimeout(timer);
      stopTimer();
      metrics.inflightCalls.dec();
    }
    metrics.llmRequests.inc({ model: request.model, status_class: '2xx' });
    const meta = response.usageMetadata ?? {};
    const tokens = {
      promptTokens: meta.promptTokenCount ?? estimate,
      // Part of promptTokens (implicit or explicit prompt cache), billed at the cached rate.
      cachedTokens: meta.cachedContentTokenCount ?? 0,
      outputTokens: meta.candidatesTokenCount ?? 0,
      thoughtsTokens: meta.thoughtsTokenCount ?? 0,
    };
    await reservation?.settle(tokens.promptTokens);
    const costUsd = deps.costOf ? deps.costOf(request.model, tokens) : 0;
    // The saving: the same call with every prompt token at the full input rate, minus its cost.
    const cacheSavingUsd = costUsd && tokens.cachedTokens > 0 ? (deps.costOf?.(request.model, { ...tokens, cachedTokens: 0 }) ?? costUsd) - costUsd : 0;
    await hold?.settle(costUsd ?? 0);
    if (costUsd === undefined) metrics.llmUnpricedCalls.inc({ model: request.model });
    metrics.llmTokens.inc({ model: request.model, kind: 'prompt' }, tokens.promptTokens);
    metrics.llmTokens.inc({ model: request.model, kind: 'cached' }, tokens.cachedTokens);
    metrics.llmTokens.inc({ model: request.model, kind: 'output' }, tokens.outputTokens);
    metrics.llmTokens.inc({ model: request.model, kind: 'thoughts' }, tokens.thoughtsTokens);
    if (costUsd) metrics.llmCost.inc({ model: request.model }, costUsd);
    if (cacheSavingUsd > 0) metrics.llmCacheSaving.inc({ model: request.model }, cacheSavingUsd);
    const candidate = response.candidates?.[0];
    const text = (candidate?.content?.parts ?? []).map((p) => (p.thought ? '' : (p.text ?? ''))).join('');
    return {
      reply: { text, finishReason: String(candidate?.finishReason ?? (response.promptFeedback?.blockReason ? 'BLOCKLIST' : 'STOP')), model: request.model },
      usage: { ...tokens, calls: 1, costUsd: costUsd ?? 0, unpricedCalls: costUsd === undefined ? 1 : 0, cacheSavingUsd },
    };
  };
}

/** Bounded label for a failed request: the HTTP status class, 429 on its own, or timeout/error. */
export function statusClass(err: unknown): string {
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number') {
    if (status === 429) return '429';
    return `${Math.floor(status / 100)}xx`;
  }
  const name = (err as { name?: string })?.name ?? '';
  if (/abort|timeout/i.test(name) || /timed? ?out|abort/i.test(String((err as Error)?.message))) return 'timeout';
  return 'error';
}
