import { DelayedError, type Job } from 'bullmq';
import type { CallUsage } from '../../core/evals/eval-store.js';
import { classifyGeminiError } from '../../core/gemini/classify-error.js';
import { limitsFor, type LimitsTable } from '../../core/limiter/model-limits.js';
import type { Usage } from '../../core/task.js';
import type { CallModel } from '../call-model.js';
import { QuotaWait, pauseAfterRateLimit, type QuotaLimiter } from '../quota-gate.js';
import { MalformedOutputError } from '../worker-errors.js';

export interface EvalCallDeps {
  callModel: CallModel;
  limiter?: QuotaLimiter;
  /** The farm's quotas per model (SDF_LIMITS). */
  defaultLimits?: LimitsTable;
}

export interface EvalRequest {
  model: string;
  system?: string;
  user: string;
  temperature: number;
  maxOutputTokens: number;
  schema?: Record<string, unknown>;
  /** The answer's slot in the response cache: a retried task gets the answers it already paid for. */
  seed: number;
  variant: string;
}

/** Quota waits up to this long are waited in place; longer ones hand the task back without spending an attempt. */
const MAX_IN_PLACE_WAIT_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const ZERO_CALL_USAGE: CallUsage = { calls: 0, promptTokens: 0, outputTokens: 0, costUsd: 0, cacheHits: 0 };

/**
 * One eval task's model calls, on the farm's call path (quota gate, daily budgets, response cache,
 * cost and metrics): a long quota wait moves the job to the delayed set, a 429 pauses the model
 * farm-wide, as stage tasks do. The task's spend is summed in `usage`, stored with its result.
 */
export class EvalCalls {
  readonly usage: CallUsage = { ...ZERO_CALL_USAGE };

  constructor(
    readonly deps: EvalCallDeps,
    readonly job: Job,
    readonly token: string | undefined,
  ) {}

  async text(request: EvalRequest): Promise<string> {
    const limits = limitsFor(request.model, this.deps.defaultLimits ?? {});
    for (;;) {
      try {
        const { reply, usage } = await this.deps.callModel({
          model: request.model,
          ...(request.system ? { system: request.system } : {}),
          user: request.user,
          temperature: request.temperature,
          maxOutputTokens: request.maxOutputTokens,
          ...(request.schema ? { schema: request.schema } : {}),
          ...(limits ? { limits } : {}),
          cache: { seed: request.seed, variant: request.variant },
        });
        this.#add(usage);
        if (reply.finishReason !== 'STOP') throw new MalformedOutputError(`${request.model}: answer ended with ${reply.finishReason}`, reply.finishReason);
        return reply.text;
      } catch (caught) {
        if (caught instanceof QuotaWait) {
          if (caught.reason === 'rpd' || caught.retryInMs > MAX_IN_PLACE_WAIT_MS) {
            await this.job.moveToDelayed(Date.now() + caught.retryInMs, this.token);
            throw new DelayedError();
          }
          await sleep(caught.retryInMs);
          continue;
        }
        if (caught instanceof MalformedOutputError) throw caught;
        const kind = classifyGeminiError(caught);
        if (kind.kind !== 'rate-limited') throw caught;
        await sleep(await pauseAfterRateLimit(this.deps.limiter, request.model, kind));
      }
    }
  }

  async json<T>(request: EvalRequest & { schema: Record<string, unknown> }): Promise<T> {
    const text = await this.text(request);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new MalformedOutputError(`${request.model}: answer is not valid JSON`, 'STOP');
    }
  }

  #add(usage: Usage): void {
    this.usage.calls += usage.calls;
    this.usage.promptTokens += usage.promptTokens;
    this.usage.outputTokens += usage.outputTokens + usage.thoughtsTokens;
    this.usage.costUsd += usage.costUsd;
    this.usage.cacheHits += usage.cacheHits ?? 0;
  }
}
