import type { BatchAnswer, BatchResultItem } from './batch-store.js';
import type { Stage } from '../stages.js';

/**
 * One result of a batch as Gemini gives it, inlined (`{response | error, metadata: {key}}`, the
 * SDK's InlinedResponse) or as a results-file line (`{key, response | error}`): the same
 * GenerateContentResponse JSON an online call gets, or a google.rpc.Status.
 */
export interface RawBatchResult {
  key?: unknown;
  metadata?: { key?: unknown } | Record<string, unknown>;
  response?: unknown;
  error?: { code?: number | string; message?: string };
}

interface ResponseJson {
  candidates?: { finishReason?: string; content?: { parts?: { text?: string; thought?: boolean }[] } }[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: { promptTokenCount?: number; cachedContentTokenCount?: number; candidatesTokenCount?: number; thoughtsTokenCount?: number };
}

/** The request key a result carries (`metadata.key` inline, `key` in a file), or undefined. */
export function resultKey(raw: RawBatchResult): string | undefined {
  const key = raw.key ?? (raw.metadata as { key?: unknown } | undefined)?.key;
  return typeof key === 'string' ? key : undefined;
}

/**
 * What one result means to its task and its bill: the answer's text and finish reason read as an
 * online call reads them (thought parts left out), or the error; its tokens; its cost at the
 * batch price from `costOf` (undefined: the model has no price).
 */
export function readBatchResult(
  raw: RawBatchResult,
  key: string,
  stage: Stage,
  model: string,
  costOf: (tokens: BatchResultItem['tokens']) => number | undefined,
): BatchResultItem {
  const tokens = { promptTokens: 0, cachedTokens: 0, outputTokens: 0, thoughtsTokens: 0 };
  if (raw.error || !raw.response) {
    const answer: BatchAnswer = { error: { code: raw.error?.code ?? 'UNKNOWN', message: String(raw.error?.message ?? 'the batch gave no response for this request').slice(0, 500) } };
    return { key, stage, answer, tokens, costUsd: 0, unpriced: false };
  }
  const response = raw.response as ResponseJson;
  const meta = response.usageMetadata ?? {};
  tokens.promptTokens = meta.promptTokenCount ?? 0;
  tokens.cachedTokens = meta.cachedContentTokenCount ?? 0;
  tokens.outputTokens = meta.candidatesTokenCount ?? 0;
  tokens.thoughtsTokens = meta.thoughtsTokenCount ?? 0;
  const candidate = response.candidates?.[0];
  const text = (candidate?.content?.parts ?? []).map((p) => (p.thought ? '' : (p.text ?? ''))).join('');
  const finishReason = String(candidate?.finishReason ?? (response.promptFeedback?.blockReason ? 'BLOCKLIST' : 'STOP'));
  const cost = costOf(tokens);
  return { key, stage, answer: { text, finishReason }, tokens, costUsd: cost ?? 0, unpriced: cost === undefined };
}
