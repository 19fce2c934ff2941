import type { GeminiErrorClass } from '../../core/gemini/classify-error.js';

/**
 * The provider's own words from an SDK error (its JSON body's `error.message`), or the error's
 * message: a 429 without RetryInfo says which limit it hit only there (and in a Help link).
 */
export function providerMessage(err: unknown): string {
  const message = String((err as { message?: unknown })?.message ?? err);
  const start = message.indexOf('{');
  if (start !== -1) {
    try {
      const body = JSON.parse(message.slice(start)) as { error?: { message?: string } };
      if (body.error?.message) return body.error.message;
    } catch {
      // Not JSON after all: the whole message.
    }
  }
  return message;
}

/** What run status says while a model's batch submissions are refused with 429. */
export function submissionLimitNote(model: string, limited: Extract<GeminiErrorClass, { kind: 'rate-limited' }>, message: string, until: number): string {
  const which = limited.retryAfterMs === undefined ? 'without RetryInfo (a batch enqueue or spend limit: the farm backs off on its own)' : `asking for ${Math.ceil(limited.retryAfterMs / 1000)} s`;
  const quota = limited.quotaId ? `, quota ${limited.quotaId}` : '';
  return `${model}: batch submission refused with 429 ${which}${quota}: ${message.slice(0, 300)}; next try at ${new Date(until).toISOString()}`;
}
