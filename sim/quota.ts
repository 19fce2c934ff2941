/**
 * Per-model quotas enforced like Gemini: requests and input tokens in any sliding window (a minute
 * by default), requests per Pacific day (Gemini's daily quotas reset at midnight Pacific time). It also records, per model, the fullest window seen: the most
 * requests that arrived in any one window, and the most it admitted. Those show what share of the
 * quota a client achieves where the quota binds, which a count over a whole run cannot show.
 */
const PACIFIC = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The date (YYYY-MM-DD) in California at `ms`, from the runtime's time-zone data. */
export function pacificDate(ms: number): string {
  return PACIFIC.format(ms);
}

/** The first instant after `ms` that is a new Pacific date (found by bisection to the millisecond). */
export function nextPacificMidnight(ms: number): number {
  const today = pacificDate(ms);
  let lo = ms;
  let hi = ms + 26 * 3_600_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (pacificDate(mid) === today) lo = mid;
    else hi = mid;
  }
  return hi;
}

export interface QuotaDecision {
  ok: boolean;
  quotaId?: string;
  quotaMetric?: string;
  limit?: number;
  retryAfterMs?: number;
}

export interface QuotaLimits {
  rpm: number;
  tpm: number;
  rpd: number;
  /** Length of the RPM/TPM window. @defaultValue 60000 */
  windowMs?: number;
}

/** The fullest window of one model so far. */
export interface QuotaPeak {
  windowMs: number;
  /** Most requests that asked for quota within one window, refused ones included. */
  requests: number;
  /** Most requests admitted within one window (never above rpm when rpm is set). */
  admitted: number;
}

/**
 * A FIFO over an array with a moving head: Array#shift copies the whole array, which on a busy
 * simulator (thousands of requests in a window) would cost more than the requests themselves.
 */
class Queue<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }
  at(i: number): T {
    return this.#items[this.#head + i]!;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  shift(): T {
    const item = this.#items[this.#head++]!;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

interface ModelWindow {
  /** [time, tokens] of each admitted request in the last window. */
  admitted: Queue<[number, number]>;
  tokens: number;
  /** Arrival time of each request, admitted or not, in the last window. */
  arrived: Queue<number>;
  day: string;
  dayCount: number;
  peakRequests: number;
  peakAdmitted: number;
}

export class SimQuota {
  readonly #models = new Map<string, ModelWindow>();
  readonly windowMs: number;

  constructor(readonly limits: QuotaLimits) {
    this.windowMs = limits.windowMs ?? 60_000;
  }

  /** The fullest window so far of every model that was called. */
  peaks(): Record<string, QuotaPeak> {
    return Object.fromEntries([...this.#models].map(([model, w]) => [model, { windowMs: this.windowMs, requests: w.peakRequests, admitted: w.peakAdmitted }]));
  }

  admit(model: string, tokens: number, now = Date.now()): QuotaDecision {
    let w = this.#models.get(model);
    if (!w) this.#models.set(model, (w = { admitted: new Queue(), tokens: 0, arrived: new Queue(), day: '', dayCount: 0, peakRequests: 0, peakAdmitted: 0 }));
    const window = this.windowMs;
    while (w.admitted.length > 0 && w.admitted.at(0)[0] <= now - window) w.tokens -= w.admitted.shift()[1];
    while (w.arrived.length > 0 && w.arrived.at(0) <= now - window) w.arrived.shift();
    // A fullest window can always be slid to end at an arrival, so checking at each arrival finds it.
    w.arrived.push(now);
    w.peakRequests = Math.max(w.peakRequests, w.arrived.length);

    const decision = this.#decide(w, tokens, now);
    if (decision.ok) {
      w.admitted.push([now, tokens]);
      w.tokens += tokens;
      w.dayCount++;
      w.peakAdmitted = Math.max(w.peakAdmitted, w.admitted.length);
    }
    return decision;
  }

  #decide(w: ModelWindow, tokens: number, now: number): QuotaDecision {
    const window = this.windowMs;
    const day = pacificDate(now);
    if (w.day !== day) {
      w.day = day;
      w.dayCount = 0;
    }
    const { rpm, tpm, rpd } = this.limits;
    if (rpd > 0 && w.dayCount >= rpd) {
      const midnight = nextPacificMidnight(now);
      return { ok: false, quotaId: 'GenerateRequestsPerDayPerProjectPerModel', quotaMetric: 'generativelanguage.googleapis.com/generate_requests_per_model_per_day', limit: rpd, retryAfterMs: midnight - now };
    }
    if (rpm > 0 && w.admitted.length >= rpm) {
      return { ok: false, quotaId: 'GenerateRequestsPerMinutePerProjectPerModel', quotaMetric: 'generativelanguage.googleapis.com/generate_requests_per_model', limit: rpm, retryAfterMs: w.admitted.at(w.admitted.length - rpm)[0] + window - now };
    }
    if (tpm > 0 && w.tokens + tokens > tpm) {
      let freed = 0;
      let at = now;
      for (let i = 0; i < w.admitted.length; i++) {
        const [time, t] = w.admitted.at(i);
        freed += t;
        at = time + window;
        if (w.tokens - freed + tokens <= tpm) break;
      }
      return { ok: false, quotaId: 'GenerateContentInputTokensPerModelPerMinute', quotaMetric: 'generativelanguage.googleapis.com/generate_content_input_token_count', limit: tpm, retryAfterMs: at - now };
    }
    return { ok: true };
  }
}
