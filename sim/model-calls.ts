import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultSchedule } from './fault-schedule.js';
import type { Generator } from './generate.js';
import { failure, geminiError, hasApiKey, isFailure, readJson, sendFailure, sendJson, UNREGISTERED_CALLER, type Route } from './http.js';
import type { SimMetrics } from './metrics.js';
import type { SimOptions } from './options.js';
import { SimQuota, type QuotaPeak } from './quota.js';

export interface OnlineStats {
  /** Online model requests (generateContent, countTokens) by model and HTTP code; batch requests are never here. */
  requests: Record<string, Record<string, number>>;
  /** Per model, the fullest quota window so far (see SimQuota): what share of the quota a client achieved. */
  quota: Record<string, QuotaPeak>;
  /** Model requests (generateContent, countTokens) received and not yet answered. */
  inFlight: number;
  /** The most `inFlight` has been since the simulator started: what a client managed to hold open. */
  peakInFlight: number;
}

/** A spend-based limit (the simulator's `spendCapped`): Gemini names no retry delay, only a Help link. */
const SPEND_CAP_REACHED = failure(
  429,
  'RESOURCE_EXHAUSTED',
  'Your project has exceeded its spending cap. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/billing.',
  [{ '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API spend limits', url: 'https://ai.google.dev/gemini-api/docs/billing' }] }],
);

/**
 * The online model calls, `models/{model}:generateContent` and `:countTokens`: everything Gemini
 * does to a request before and around generating — API key, quota (counted on arrival), spurious
 * 429s, 5xx and timeouts spread evenly (FaultSchedule), latency — then the shared generation path.
 */
export class ModelCalls {
  readonly #requests: OnlineStats['requests'] = {};
  readonly #quota: SimQuota;
  readonly #faults: FaultSchedule;
  readonly #held = new Set<ServerResponse>();
  #inFlight = 0;
  #peakInFlight = 0;

  constructor(
    readonly options: SimOptions,
    readonly metrics: SimMetrics,
    readonly generator: Generator,
  ) {
    this.#quota = new SimQuota({ rpm: options.rpm, tpm: options.tpm, rpd: options.rpd, windowMs: options.quotaWindowMs });
    this.#faults = new FaultSchedule(options.seed);
  }

  stats(): OnlineStats {
    return { requests: structuredClone(this.#requests), quota: this.#quota.peaks(), inFlight: this.#inFlight, peakInFlight: this.#peakInFlight };
  }

  /** Ends the requests held open to simulate timeouts. */
  close(): void {
    for (const res of this.#held) res.destroy();
  }

  routes(): Route[] {
    const route = (method: 'generateContent' | 'countTokens'): Route => ({
      method: 'POST',
      path: new RegExp(`^/v1beta/models/([^/:]+):${method}$`),
      kind: `models.${method}`,
      // A refused caller still counts as a request of its model, so the key is checked here.
      needsKey: false,
      handle: (req, res, _url, [model]) => this.#handle(req, res, model!, method),
    });
    return [route('generateContent'), route('countTokens')];
  }

  #count(model: string, code: number | 'timeout'): void {
    this.metrics.requests.inc({ model, code: String(code) });
    const byModel = (this.#requests[model] ??= {});
    byModel[String(code)] = (byModel[String(code)] ?? 0) + 1;
  }

  async #handle(req: IncomingMessage, res: ServerResponse, model: string, method: 'generateContent' | 'countTokens'): Promise<void> {
    // Counted from arrival until the response ends or its connection closes, whatever the outcome.
    this.metrics.inFlight.set(++this.#inFlight);
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
    res.once('close', () => this.metrics.inFlight.set(--this.#inFlight));
    const { options, generator } = this;

    if (!hasApiKey(req)) {
      this.#count(model, 403);
      return sendFailure(res, UNREGISTERED_CALLER);
    }
    const body = await readJson(req);
    if (!body.ok) {
      this.#count(model, body.failure.code);
      return sendFailure(res, body.failure);
    }
    if (method === 'countTokens') {
      this.#count(model, 200);
      return sendJson(res, 200, { totalTokens: generator.countTokens(body.value) });
    }
    const prompt = generator.prompt(model, body.value);
    if (isFailure(prompt)) {
      this.#count(model, prompt.code);
      return sendFailure(res, prompt);
    }
    if (options.spendCapped) {
      this.#count(model, 429);
      return sendFailure(res, SPEND_CAP_REACHED);
    }
    const random = generator.random(prompt);
    // Quota is counted on arrival, as Gemini does; the work (latency) comes after.
    const decision = this.#quota.admit(model, prompt.tokens);
    // Quota refusals are not also given a scheduled fault: the schedule counts admitted requests.
    const fault = decision.ok ? this.#faults.next({ '429': options.errorRate429, '5xx': options.errorRate5xx, timeout: options.timeoutRate }) : undefined;
    const latency = options.latencyMs + (options.jitterMs > 0 ? random.next() * options.jitterMs : 0);
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    if (!decision.ok || fault === '429') {
      // A spurious 429 (overload, not quota) asks for a one-second pause, as Gemini typically does.
      const retryMs = decision.retryAfterMs ?? 1000;
      this.#count(model, 429);
      return sendJson(
        res,
        429,
        geminiError(429, 'RESOURCE_EXHAUSTED', `You exceeded your current quota, please check your plan and billing details. Please retry in ${(retryMs / 1000).toFixed(3)}s.`, [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaMetric: decision.quotaMetric ?? 'generativelanguage.googleapis.com/generate_requests_per_model', quotaId: decision.quotaId ?? 'GenerateRequestsPerMinutePerProjectPerModel', quotaDimensions: { location: 'global', model }, quotaValue: String(decision.limit ?? 0) }],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${Math.max(1, Math.ceil(retryMs / 1000))}s` },
        ]),
      );
    }
    if (fault === '5xx') {
      const code = random.chance(0.5) ? 500 : 503;
      this.#count(model, code);
      return sendJson(res, code, code === 500 ? geminiError(500, 'INTERNAL', 'An internal error has occurred.') : geminiError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'));
    }
    if (fault === 'timeout') {
      this.#held.add(res);
      this.#count(model, 'timeout');
      const timer = setTimeout(() => res.destroy(), options.timeoutHoldMs);
      res.once('close', () => {
        clearTimeout(timer);
        this.#held.delete(res);
      });
      return;
    }
    const answer = generator.answer(prompt, random);
    this.#count(model, 200);
    sendJson(res, 200, answer);
  }
}
