import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { runPatternAudit, type PatternReport } from '../core/audit/llm-audit.js';
import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import { runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { PromptLibrary } from '../core/prompts/prompt-library.js';
import { AUDIT_QUEUE, type AuditTaskData } from '../core/queues.js';
import { resolveStageSettings } from '../core/spec/resolve-stage-settings.js';
import type { CallModel } from './call-model.js';
import type { RunCache } from './run-cache.js';
import { MalformedOutputError } from './worker-errors.js';

/**
 * Runs a run's pattern audit (scan → cluster → autorate) on the sample the producer queued, and
 * stores the report; the run's filters pick up its active patterns within seconds.
 */
export function createAuditWorker(deps: { connection: ConnectionOptions; prefix: string; redis: Redis; callModel: CallModel; runs: RunCache; prompts: PromptLibrary; logger: Logger }): Worker<AuditTaskData> {
  const worker = new Worker<AuditTaskData>(
    AUDIT_QUEUE,
    async (job: Job<AuditTaskData>) => {
      const { runId, kind, samples } = job.data;
      const spec = await deps.runs.spec(runId);
      if (!spec) return 'skipped';
      const audit = resolveFilterSpec(spec.filters).audit;
      const model = audit.model ?? resolveStageSettings(spec, 'documents').model;
      const keys = runKeys(deps.prefix, runId);
      const report = await runPatternAudit({
        samples,
        prompts: deps.prompts,
        maxPrevalence: audit.maxPrevalence,
        generate: async (stage, prompt, schema) => {
          const { reply, usage } = await deps.callModel({ model, user: prompt, temperature: 0.2, maxOutputTokens: 8192, schema });
          await deps.redis
            .multi()
            .hincrby(keys.stats, 'tokens:prompt', usage.promptTokens)
            .hincrby(keys.stats, 'tokens:output', usage.outputTokens)
            .hincrby(keys.stats, 'calls', usage.calls)
            .hincrbyfloat(keys.stats, 'cost:usd', usage.costUsd)
            .exec();
          try {
            return JSON.parse(reply.text) as unknown;
          } catch {
            throw new MalformedOutputError(`${stage}: answer is not valid JSON`, reply.finishReason);
          }
        },
      });
      // Once active, a pattern stays active for the run: later samples are already filtered, so
      // their lower prevalence shows the filter working, not the pattern gone.
      const previous = await deps.redis.get(keys.patterns(kind));
      for (const old of previous ? (JSON.parse(previous) as PatternReport).patterns.filter((p) => p.active) : []) {
        const current = report.patterns.find((p) => p.name === old.name);
        if (current) current.active = true;
        else report.patterns.push(old);
      }
      await deps.redis.set(keys.patterns(kind), JSON.stringify(report));
      deps.logger.info({ runId, kind, active: report.patterns.filter((p) => p.active).map((p) => p.name) }, 'pattern audit done');
      return 'done';
    },
    // One at a time per process: each audit merges the previous report's active patterns.
    { connection: deps.connection, prefix: deps.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'audit worker error'));
  return worker;
}
