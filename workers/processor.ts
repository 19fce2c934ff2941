import { DelayedError, type Job } from 'bullmq';
import type { FarmMetrics } from '../core/metrics.js';
import type { Logger } from '../core/logger.js';
import { renderTemplate } from '../core/prompts/render-template.js';
import type { PromptLibrary } from '../core/prompts/prompt-library.js';
import { resolveStageSettings } from '../core/spec/resolve-stage-settings.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { ZERO_USAGE, addUsage, chatTurnOf, taskId, type ChatMessage, type Rejection, type TaskData, type TaskResult, type Usage } from '../core/task.js';
import { toError } from '../core/errors.js';
import { classifyGeminiError } from '../core/gemini/classify-error.js';
import type { CallModel } from './call-model.js';
import { callWithPromptCache, type PromptCacheUse } from './call-with-prompt-cache.js';
import type { RunCache } from './run-cache.js';
import type { StageContext, StageOutcome } from './stage-context.js';
import { STAGE_HANDLERS } from './stages/index.js';
import { BlockedOutputError, MalformedOutputError } from './worker-errors.js';
import type { FilterSubject } from '../core/filters/item-rules.js';
import type { CheckOptions } from '../core/filters/run-filters.js';
import { QuotaWait, pauseAfterRateLimit, type QuotaLimiter } from './quota-gate.js';
import { BUDGET_PARK_MS, DAILY_BUDGET } from './budget-gate.js';
import { limitsFor, type LimitsTable } from '../core/limiter/model-limits.js';
import { BatchWait } from './batch-mode.js';
import type { UsageReport } from '../core/runs/run-results.js';
import { runAnswerSlot, taskVariant } from './response-cache.js';

export interface ProcessorDeps {
  callModel: CallModel;
  runs: RunCache;
  prompts: PromptLibrary;
  /** Hands a task's one result to the run's owner (the run's results stream). */
  publish: (result: TaskResult) => Promise<void>;
  /** Reports the spend of an attempt that ends without a result (it will be retried or come back later). */
  reportUsage: (runId: string, report: UsageReport) => Promise<void>;
  metrics: FarmMetrics;
  logger: Logger;
  /** The run's filters (per-item rules, then the shared corpus gate); null = passes. */
  filtersFor: (runId: string, spec: RunSpec) => { check(subject: FilterSubject, id: string, options?: CheckOptions): Promise<Rejection | null>; spec: { regenerate: { attempts: number } } };
  /** Farm-wide limiter told about 429s (pause + slow down) and successes (speed back up). */
  limiter?: QuotaLimiter;
  /** The farm's default quotas per model (SDF_LIMITS); a run's `limits` win. */
  defaultLimits?: LimitsTable;
  /** Records on the run that a model's daily quota (`rpd`) or daily budget is spent, for run status. */
  noteQuotaExhausted?: (runId: string, model: string, untilMs: number, reason?: string) => Promise<void>;
  /** Records on the run (status `quota`) a rate limit the provider gave no retry delay for, and which limit it was. */
  noteRateLimit?: (runId: string, note: string) => Promise<void>;
  /** The runs' explicit caches (names from the run owner's records); absent = system instructions always sent. */
  promptCaches?: PromptCacheUse;
}

const BLOCKED = new Set(['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY']);

/**
 * One task, top to bottom: load the run → build the prompt → call the model (quota inside) →
 * parse → filter → hand the result to the producer. Exactly one result per task is published,
 * whatever the outcome; failures that can still be retried are thrown for BullMQ to retry.
 */
export function createTaskProcessor(deps: ProcessorDeps) {
  return async function processTask(job: Job<TaskData>, token?: string): Promise<string> {
    const task = job.data;
    // Made on first use: pino serialises a child's bindings when it is created, and most tasks never log.
    let childLog: Logger | undefined;
    const log = { get: () => (childLog ??= deps.logger.child({ runId: task.runId, stage: task.stage, taskId: task.index })) };
    const state = await deps.runs.state(task.runId);
    if (state === 'budget_exhausted') {
      // Kept, not skipped: parked until the budget is raised, when the run's owner returns it.
      await job.moveToDelayed(Date.now() + BUDGET_PARK_MS + Math.floor(Math.random() * 1000), token);
      throw new DelayedError();
    }
    if (state !== 'running' && state !== 'queued') return 'skipped';
    const spec = await deps.runs.spec(task.runId);
    if (!spec) return 'skipped';

    const settings = resolveStageSettings(spec, task.stage);
    const limits = limitsFor(settings.model, deps.defaultLimits ?? {}, spec.limits);
    let usage: Usage = ZERO_USAGE;
    const id = taskId(task.stage, task.index);
    // Chat stages say which turn they wrote, for the per-turn counts of multi-turn chats.
    const turn = chatTurnOf(task);
    const publish = async (outcome: StageOutcome & Pick<TaskResult, 'error' | 'input'>) => {
      const result: TaskResult = { runId: task.runId, stage: task.stage, index: task.index, id, model: settings.model, usage, attempts: job.attemptsMade + 1, ...(turn ? { turn } : {}), ...outcome };
      await deps.publish(result);
      usage = ZERO_USAGE;
      deps.metrics.tasksCompleted.inc({ stage: task.stage, outcome: result.outcome });
      if (turn) deps.metrics.chatTurns.inc({ stage: task.stage, turn: String(turn), outcome: result.outcome });
      for (const r of result.rejections ?? []) deps.metrics.rejections.inc({ stage: task.stage, reason: r.reason });
      return result.outcome;
    };

    const filters = deps.filtersFor(task.runId, spec);
    // Numbers this attempt's calls: each gets its own answer slot (see taskVariant), so its own
    // request key, for the response cache and, in batch mode, for its batch request.
    let calls = 0;
    const call = async (values: Record<string, unknown>, json: boolean, temperatureBoost = 0, history?: ChatMessage[]) => {
      const variant = taskVariant(task, calls++);
      const slot = runAnswerSlot(spec, variant);
      // Batch mode keys its requests whether or not the run uses the response cache.
      const batch = settings.mode === 'batch' ? { runId: task.runId, task: `${task.stage}:${task.index}`, jobId: job.id!, slot: slot ?? { seed: spec.seed ?? 0, variant } } : undefined;
      const template = deps.prompts.get(task.stage);
      const override = spec.prompts?.[task.stage];
      const userTemplate = override?.user ?? template.user;
      const systemTemplate = override?.system ?? template.system;
      let answer;
      try {
        answer = await callWithPromptCache(deps.callModel, deps.promptCaches, task.runId, {
          model: settings.model,
          ...(history && history.length > 0 ? { history } : {}),
          user: renderTemplate(userTemplate, values),
          ...(systemTemplate ? { system: renderTemplate(systemTemplate, { universe: spec.universe, ...values }) } : {}),
          temperature: Math.min(2, settings.temperature + temperatureBoost),
          maxOutputTokens: settings.maxOutputTokens,
          ...(limits ? { limits } : {}),
          ...(json && template.schema ? { schema: template.schema } : {}),
          ...(slot ? { cache: slot } : {}),
          ...(batch ? { batch } : {}),
          runId: task.runId,
        });
      } catch (err) {
        // A request that failed was still made (and may count against the provider's quota).
        if (!(err instanceof QuotaWait) && !(err instanceof BatchWait)) usage = addUsage(usage, { ...ZERO_USAGE, calls: 1 });
        throw err;
      }
      const { reply, usage: callUsage } = answer;
      usage = addUsage(usage, callUsage);
      if (BLOCKED.has(reply.finishReason)) throw new BlockedOutputError(reply.finishReason.toLowerCase());
      return reply;
    };

    const ctx: StageContext = {
      task,
      spec,
      regenerateAttempts: filters.spec.regenerate.attempts,
      generate: (values, options = {}) => call(values, false, options.temperatureBoost ?? 0, options.history),
      async generateJson<T>(values: Record<string, unknown>) {
        const reply = await call(values, true);
        try {
          return { value: JSON.parse(reply.text) as T, reply };
        } catch {
          throw new MalformedOutputError(`${task.stage}: answer is not valid JSON (finishReason ${reply.finishReason})`, reply.finishReason);
        }
      },
      check: (kind, text, reply, extra = {}, { id: checkId = id, ...options } = {}) => filters.check({ kind, text, finishReason: reply.finishReason, ...extra }, checkId, options),
    };

    /** Gives the slot back and returns the task later, without spending an attempt. */
    const comeBackIn = async (ms: number): Promise<never> => {
      await job.moveToDelayed(Date.now() + Math.ceil(ms) + Math.floor(Math.random() * 250), token);
      throw new DelayedError();
    };

    /** Spend of this attempt that no result will carry, reported before the attempt ends. */
    const reportSpend = async () => {
      if (usage.calls === 0 && !usage.cacheHits) return;
      const spent = usage;
      usage = ZERO_USAGE;
      await deps.reportUsage(task.runId, { stage: task.stage, model: settings.model, usage: spent }).catch((err) => log.get().warn({ err }, 'reporting the spend of a failed attempt failed'));
    };

    try {
      const outcome = await STAGE_HANDLERS[task.stage](ctx);
      // Successes only matter to the adaptive rate of a limited model; skip the round trip otherwise.
      if (limits) void deps.limiter?.reportSuccess(settings.model).catch(() => {});
      return await publish(outcome);
    } catch (caught) {
      const err = toError(caught);
      if (err instanceof DelayedError) throw err;
      if (err instanceof BatchWait) {
        await reportSpend();
        return comeBackIn(err.recheckMs);
      }
      if (err instanceof QuotaWait) {
        await reportSpend();
        if (err.reason === 'rpd' || err.reason === DAILY_BUDGET) await deps.noteQuotaExhausted?.(task.runId, err.model, Date.now() + err.retryInMs, err.reason);
        log.get().debug({ model: err.model, reason: err.reason, retryInMs: err.retryInMs }, 'waiting for quota');
        return comeBackIn(err.retryInMs);
      }
      const kind = err instanceof MalformedOutputError || err instanceof BlockedOutputError ? undefined : classifyGeminiError(caught);
      if (kind?.kind === 'rate-limited') {
        const pauseMs = await pauseAfterRateLimit(deps.limiter, settings.model, kind);
        if (kind.perDay) await deps.noteQuotaExhausted?.(task.runId, settings.model, Date.now() + pauseMs);
        // No RetryInfo (spend-based limits and the like): backed off without a delay from the provider; status says which limit.
        else if (kind.retryAfterMs === undefined) await deps.noteRateLimit?.(task.runId, `429 from ${settings.model} with no retry delay${kind.limit ? ` (${kind.limit})` : ''}: backing off ${Math.ceil(pauseMs / 1000)} s at ${new Date().toISOString()}`);
        await reportSpend();
        return comeBackIn(pauseMs);
      }
      if (err instanceof BlockedOutputError) {
        return publish({ outcome: 'rejected', rejections: [{ id, reason: err.reason, rule: 'finish-reason' }] });
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (err instanceof MalformedOutputError) {
        if (!lastAttempt) {
          await reportSpend();
          throw err;
        }
        const reason = err.finishReason === 'MAX_TOKENS' ? 'truncated' : 'unparseable';
        return publish({ outcome: 'rejected', rejections: [{ id, reason, rule: 'json-parse', detail: err.message }] });
      }
      if (lastAttempt || kind?.kind === 'fatal') {
        log.get().warn({ err, attempts: job.attemptsMade + 1 }, 'task failed for good; dead-lettered');
        return publish({ outcome: 'failed', error: `${err.name}: ${err.message}`.slice(0, 2000), input: task.input });
      }
      log.get().debug({ err }, 'task attempt failed; will retry');
      await reportSpend();
      throw err;
    }
  };
}
