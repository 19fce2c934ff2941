/** Per-model quotas enforced like Gemini: requests and input tokens in any 60 s, requests per UTC day. */
export interface QuotaDecision {
  ok: boolean;
  quotaId?: string;
  quotaMetric?: string;
  limit?: number;
  retryAfterMs?: number;
}

interface ModelWindow {
  /** [time, tokens] of each admitted request in the last minute. */
  recent: [number, number][];
  tokens: number;
  day: string;
  dayCount: number;
}

export class SimQuota {
  readonly #models = new Map<string, ModelWindow>();

  constructor(readonly limits: { rpm: number; tpm: number; rpd: number }) {}

  admit(model: string, tokens: number, now = Date.now()): QuotaDecision {
    let w = this.#models.get(model);
    if (!w) this.#models.set(model, (w = { recent: [], tokens: 0, day: '', dayCount: 0 }));
    while (w.recent.length > 0 && w.recent[0]![0] <= now - 60_000) w.tokens -= w.recent.shift()![1];
    const day = new Date(now).toISOString().slice(0, 10);
    if (w.day !== day) {
      w.day = day;
      w.dayCount = 0;
    }
    const { rpm, tpm, rpd } = this.limits;
    if (rpd > 0 && w.dayCount >= rpd) {
      const midnight = Date.parse(`${day}T00:00:00Z`) + 86_400_000;
      return { ok: false, quotaId: 'GenerateRequestsPerDayPerProjectPerModel', quotaMetric: 'generativelanguage.googleapis.com/generate_requests_per_model_per_day', limit: rpd, retryAfterMs: midnight - now };
    }
    if (rpm > 0 && w.recent.length >= rpm) {
      return { ok: false, quotaId: 'GenerateRequestsPerMinutePerProjectPerModel', quotaMetric: 'generativelanguage.googleapis.com/generate_requests_per_model', limit: rpm, retryAfterMs: w.recent[w.recent.length - rpm]![0] + 60_000 - now };
    }
    if (tpm > 0 && w.tokens + tokens > tpm) {
      let freed = 0;
      let at = now;
      for (const [time, t] of w.recent) {
        freed += t;
        at = time + 60_000;
        if (w.tokens - freed + tokens <= tpm) break;
      }
      return { ok: false, quotaId: 'GenerateContentInputTokensPerModelPerMinute', quotaMetric: 'generativelanguage.googleapis.com/generate_content_input_token_count', limit: tpm, retryAfterMs: at - now };
    }
    w.recent.push([now, tokens]);
    w.tokens += tokens;
    w.dayCount++;
    return { ok: true };
  }
}
