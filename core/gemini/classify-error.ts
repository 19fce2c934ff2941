/**
 * Sorts what the SDK throws into what the farm does about it: wait (rate-limited, with the
 * provider's RetryInfo delay and whether a per-day quota is spent), retry with backoff
 * (transient), or stop (fatal, with the provider's message). The SDK's ApiError carries the HTTP
 * status and the error JSON as its message.
 */
export type GeminiErrorClass =
  | {
      kind: 'rate-limited';
      retryAfterMs?: number;
      quotaId?: string;
      perDay: boolean;
      /**
       * Which limit, in the provider's words, when the 429 names no quota: its Help link (spend-based
       * limits, batch enqueue limits carry only that) or its message.
       */
      limit?: string;
    }
  | { kind: 'transient'; status?: number }
  | { kind: 'fatal'; status: number; message: string };

interface ErrorDetail {
  '@type'?: string;
  retryDelay?: string;
  violations?: { quotaId?: string; quotaMetric?: string }[];
  links?: { description?: string; url?: string }[];
}

/** "17s", "1.5s", "250ms" → milliseconds. */
export function parseRetryDelay(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const match = /^([\d.]+)(ms|s)$/.exec(value.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : n * 1000;
}

function errorBody(err: unknown): { message?: string; details?: ErrorDetail[] } | undefined {
  const message = (err as { message?: unknown })?.message;
  if (typeof message !== 'string') return undefined;
  const start = message.indexOf('{');
  if (start === -1) return undefined;
  try {
    const parsed = JSON.parse(message.slice(start)) as { error?: { message?: string; details?: ErrorDetail[] } };
    return parsed.error;
  } catch {
    return undefined;
  }
}

export function classifyGeminiError(err: unknown): GeminiErrorClass {
  const status = (err as { status?: unknown })?.status;
  const body = errorBody(err);
  if (status === 429) {
    const details = body?.details ?? [];
    const retry = details.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'));
    const violation = details.find((d) => d['@type']?.endsWith('google.rpc.QuotaFailure'))?.violations?.[0];
    const quotaId = violation?.quotaId;
    const retryAfterMs = parseRetryDelay(retry?.retryDelay);
    const help = details.find((d) => d['@type']?.endsWith('google.rpc.Help'))?.links?.[0];
    const limit = quotaId ? undefined : [body?.message, help && [help.description, help.url].filter(Boolean).join(': ')].filter(Boolean).join(' — ').slice(0, 300);
    return {
      kind: 'rate-limited',
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(quotaId ? { quotaId } : {}),
      ...(limit ? { limit } : {}),
      perDay: /PerDay/i.test(quotaId ?? '') || /per_day/i.test(violation?.quotaMetric ?? ''),
    };
  }
  if (typeof status === 'number') {
    if (status === 408 || status >= 500) return { kind: 'transient', status };
    if (status >= 400) return { kind: 'fatal', status, message: body?.message ?? String((err as Error).message) };
  }
  // No status: the request never got an answer (timeout, reset, DNS): worth another try.
  return { kind: 'transient' };
}
