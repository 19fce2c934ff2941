import type { GeminiErrorClass } from '../../core/gemini/classify-error.js';

/**
 * What run status says while a model's batch submissions are refused with 429: whether the
 * provider named a delay, its quota id if any, and otherwise the limit in its own words (its
 * message and Help link, which is all a batch enqueue or spend limit's 429 carries).
 */
export function submissionLimitNote(model: string, limited: Extract<GeminiErrorClass, { kind: 'rate-limited' }>, until: number): string {
  const which = limited.retryAfterMs === undefined ? 'without RetryInfo (a batch enqueue or spend limit: the farm backs off on its own)' : `asking for ${Math.ceil(limited.retryAfterMs / 1000)} s`;
  const quota = limited.quotaId ? `, quota ${limited.quotaId}` : '';
  const words = limited.limit ? `: ${limited.limit}` : '';
  return `${model}: batch submission refused with 429 ${which}${quota}${words}; next try at ${new Date(until).toISOString()}`;
}
