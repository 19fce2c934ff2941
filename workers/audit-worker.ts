import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { runPatternAudit } from '../core/audit/llm-audit.js';
import { storePatternReport } from '../core/audit/pattern-store.js';
import { classifyGeminiError } from '../core/gemini/classify-error.js';
import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import { runKeys } from '../core/keys.js';
import { limitsFor, type LimitsTable } from '../core/limiter/model-limits.js';
import type { Logger } from '../core/logger.js';
import type { PromptLibrary } from '../core/prompts/prompt-library.js';
import { AUDIT_QUEUE, type AuditTaskData } from '../core/queues.js';
import type { UsageReport } from '../core/runs/run-results.js';
import { resolveStageSettings } from '../core/spec/resolve-stage-settings.js';
import { ZERO_USAGE } from '../core/task.js';
import type { CallModel } from './call-model.js';
import { QuotaWait, pauseAfterRateLimit, type QuotaLimiter } from './quota-gate.js';
import type { RunCache } from './run-cache.js';
import { MalformedOutputError } from './worker-errors.js';
import { runAnswerSlot } from './response-cache.js';

export interface AuditWorkerDeps {
  connection: ConnectionOptions;
  prefix: string;
  redis: Redis;
  callModel: CallModel;
  runs: RunCache;
  prompts: PromptLibrary;
  logger: Logger;
  /** Hands the spend of each audit call to the run's owner (the run's results stream), as stage workers do. */
  reportUsage: (runId: string, report: UsageReport) => Promise<void>;
  /** The farm-wide limiter, told about 429s as the stage workers tell it. */
  limiter?: QuotaLimiter;
  /** The farm's default quotas per model (SDF_LIMITS); a run's `limits` win. */
  defaultLimits?: LimitsTable;
}

/** Quota waits up to this long are waited out in place: the audit's earlier calls are not thrown away. */
const MAX_IN_PLACE_WAIT_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a run's pattern audit (scan → cluster → autorate) on the sample the producer queued, and
 * stores the report; the run's filters pick up its active patterns within seconds. Its calls are
 * the farm's calls like any other: they wait for the run's quota of the model in the farm-wide
 * limiter, and their spend goes to the run's owner as usage reports, which alone write the run's
 * counters.
 */
export function createAuditWorker(deps: AuditWorkerDeps): Worker<AuditTaskData> {
  const worker = new Worker<AuditTaskData>(
    AUDIT_QUEUE,
    async (job: Job<AuditTaskData>, token?: string) => {
      const { runId, kind, samples } = job.data;
      const spec = await deps.runs.spec(runId);
      if (!spec) return 'skipped';
      const audit = resolveFilterSpec(spec.filters).audit;
      const model = audit.model ?? resolveStageSettings(spec, 'documents').model;
      const limits = limitsFor(model, deps.defaultLimits ?? {}, spec.limits);
      // One response-cache slot for every audit call: a prompt is its sample, and an identical
      // sample (an audit re-run after a crash, or a re-run of the spec) has the same right answer.
      const slot = runAnswerSlot(spec, 'audit');
      const spent = (usage: UsageReport['usage']) => deps.reportUsage(runId, { stage: 'audit', model, usage });

      const call = async (prompt: string, schema: Record<string, unknown>) => {
        for (;;) {
          try {
            const answer = await deps.callModel({ model, user: prompt, temperature: 0.2, maxOutputTokens: 8192, schema, runId, ...(limits ? { limits } : {}), ...(slot ? { cache: slot } : {}) });
            await spent(answer.usage);
            return answer.reply;
          } catch (caught) {
            if (caught instanceof QuotaWait) {
              // A budget refusal (a QuotaWait too) parks the audit like its run's tasks.
              if (caught.reason === 'rpd' || caught.retryInMs > MAX_IN_PLACE_WAIT_MS) {
                // A long wait gives the slot back; the audit runs again when the quota is there.
                await job.moveToDelayed(Date.now() + caught.retryInMs, token);
                throw new DelayedError();
              }
              await sleep(caught.retryInMs);
              continue;
            }
            // A request that failed was still made (and may count against the provider's quota).
            await spent({ ...ZERO_USAGE, calls: 1 });
            const kind = classifyGeminiError(caught);
            if (kind.kind !== 'rate-limited') throw caught;
            await sleep(await pauseAfterRateLimit(deps.limiter, model, kind));
          }
        }
      };

      const report = await runPatternAudit({
        samples,
        prompts: deps.prompts,
        maxPrevalence: audit.maxPrevalence,
        generate: async (stage, prompt, schema) => {
          const reply = await call(prompt, schema);
          try {
            return JSON.parse(reply.text) as unknown;
          } catch {
            throw new MalformedOutputError(`${stage}: answer is not valid JSON`, reply.finishReason);
          }
        },
      });
      const stored = await storePatternReport(deps.redis, runKeys(deps.prefix, runId).patterns(kind), report);
      deps.logger.info({ runId, kind, active: stored.patterns.filter((p) => p.active).map((p) => p.name) }, 'pattern audit done');
      return 'done';
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'audit worker error'));
  return worker;
}
