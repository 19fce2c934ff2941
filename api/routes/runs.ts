import type { FastifyPluginAsync } from 'fastify';
import { BudgetLedger, type DailyBudget } from '../../core/budget/budget-ledger.js';
import { budgetPatchProblems, modelsOfRun, unpricedModelProblems } from '../../core/budget/budget-spec.js';
import { SpecError } from '../../core/errors.js';
import { cancelRun } from '../../core/runs/cancel-run.js';
import { deleteRun } from '../../core/runs/delete-run.js';
import { readRunStatus } from '../../core/runs/run-status.js';
import { listDeadLetters, retryFailed } from '../../core/runs/retry-failed.js';
import { validateRunSpec } from '../../core/spec/validate-run-spec.js';
import { PriceTable } from '../../core/cost/price-table.js';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { estimateRun, type RunEstimate } from '../../producer/run-estimate.js';
import type { RunSpec } from '../../core/spec/run-spec-schema.js';
import { projectRunCost } from '../../producer/cost-projection.js';
import { ErrorSchema, ListQuerySchema, RunIdParamsSchema, SubmitQuerySchema, SubmittedSchema, type ListQuery, type RunIdParams, type SubmitQuery } from '../schemas/run-schemas.js';

/** Submit, list, read, change (budget) and cancel runs. */
export const runsRoutes: FastifyPluginAsync = async (app) => {
  const estimateOptions = { prices: app.farm.prices ?? new PriceTable(), prompts: app.farm.prompts ?? new PromptLibrary() };

  // `?dryRun=true`: the same validation, then the estimate instead of a run; nothing is written.
  app.post<{ Querystring: SubmitQuery }>('/v1/runs', { schema: { querystring: SubmitQuerySchema, response: { 202: SubmittedSchema, 400: ErrorSchema, 409: ErrorSchema } } }, async (request, reply) => {
    const spec = validateRunSpec(request.body, { priced: (model) => estimateOptions.prices.priceOf(model) !== undefined });
    if (request.query.dryRun) return reply.code(200).send({ dryRun: true, ...estimateRun(spec, estimateOptions) });
    const key = request.headers['idempotency-key'];
    const { run, created } = await app.farm.runs.create(spec, typeof key === 'string' && key ? key : undefined);
    // Set before any call can be made; a worker sets it from the spec too, should this be lost to a crash.
    if (created && spec.budget) await new BudgetLedger(app.farm.redis, app.farm.prefix).initCap(run.id, spec.budget.usd);
    return reply.code(202).send({ id: run.id, state: run.state, created });
  });

  app.get<{ Querystring: ListQuery }>('/v1/runs', { schema: { querystring: ListQuerySchema } }, async (request) => {
    const ids = await app.farm.runs.list(request.query.limit, request.query.offset);
    const runs = [];
    for (const id of ids) {
      const run = await app.farm.runs.summary(id);
      if (run) runs.push(await readRunStatus(app.farm.redis, app.farm.prefix, app.farm.runs, run));
    }
    return { runs };
  });

  // A run's spec never changes: its parsed spec and estimate are kept for the status polls that
  // follow (a few hundred runs; the oldest go first), so a poll does not read and parse the spec.
  const estimates = new Map<string, { spec: RunSpec; estimate: RunEstimate }>();
  const estimateOf = async (id: string) => {
    let known = estimates.get(id);
    if (!known) {
      const { spec } = await app.farm.runs.get(id);
      known = { spec, estimate: estimateRun(spec, estimateOptions) };
      estimates.set(id, known);
      if (estimates.size > 256) estimates.delete(estimates.keys().next().value!);
    }
    return known;
  };

  // One run's status, with its cost projection (the list leaves it out: it needs each run's spec).
  app.get<{ Params: RunIdParams }>('/v1/runs/:id', { schema: { params: RunIdParamsSchema } }, async (request) => {
    const run = await app.farm.runs.getSummary(request.params.id);
    const [status, { spec, estimate }] = await Promise.all([readRunStatus(app.farm.redis, app.farm.prefix, app.farm.runs, run, app.farm.queues), estimateOf(run.id)]);
    const withProjection = { ...status, projection: projectRunCost(spec, status, estimate) };
    const daily = app.farm.dailyBudgetUsd ?? {};
    if (Object.keys(daily).length === 0) return withProjection;
    // The farm's daily budgets of the models this run calls: what stands between it and its next calls.
    const budgets = new BudgetLedger(app.farm.redis, app.farm.prefix);
    const dailyBudgets: Record<string, { usd: number } & DailyBudget> = {};
    for (const model of modelsOfRun(spec).keys()) {
      if (daily[model] !== undefined) dailyBudgets[model] = { usd: daily[model], ...(await budgets.readDaily(model)) };
    }
    return Object.keys(dailyBudgets).length > 0 ? { ...withProjection, dailyBudgets } : withProjection;
  });

  // Changes what a run may change after submission: its budget (see README, "Budget cap").
  app.patch<{ Params: RunIdParams }>('/v1/runs/:id', { schema: { params: RunIdParamsSchema } }, async (request) => {
    const problems = budgetPatchProblems(request.body);
    if (problems.length > 0) throw new SpecError(problems, 'run change');
    const usd = (request.body as { budget: { usd: number } }).budget.usd;
    const run = await app.farm.runs.get(request.params.id);
    const unpriced = unpricedModelProblems(run.spec, (model) => estimateOptions.prices.priceOf(model) !== undefined);
    if (unpriced.length > 0) throw new SpecError(unpriced, 'run change');
    const { previousUsd, resumed } = await new BudgetLedger(app.farm.redis, app.farm.prefix).setCap(run.id, usd, run.spec.budget?.usd);
    return { id: run.id, budget: { usd, ...(previousUsd !== undefined ? { previousUsd } : {}) }, resumes: resumed };
  });

  app.post<{ Params: RunIdParams }>('/v1/runs/:id/cancel', { schema: { params: RunIdParamsSchema } }, async (request) => {
    const run = await app.farm.runs.get(request.params.id);
    const cancelled = await cancelRun(app.farm.runs, app.farm.queues, run.id);
    return { id: run.id, state: cancelled ? 'cancelled' : run.state, cancelled };
  });

  // Everything of the run goes: Redis state and files. An active run is cancelled first.
  app.delete<{ Params: RunIdParams }>('/v1/runs/:id', { schema: { params: RunIdParamsSchema } }, async (request) => {
    const { redis, prefix, runs, queues, dataDir, leaseTtlMs } = app.farm;
    const removed = await deleteRun({ redis, prefix, runs, queues, dataDir, leaseTtlMs }, request.params.id);
    return { id: request.params.id, deleted: true, ...removed };
  });

  app.get<{ Params: RunIdParams }>('/v1/runs/:id/failed', { schema: { params: RunIdParamsSchema } }, async (request) => {
    const run = await app.farm.runs.get(request.params.id);
    return { failed: await listDeadLetters(app.farm.redis, app.farm.prefix, run.id) };
  });

  app.post<{ Params: RunIdParams }>('/v1/runs/:id/retry-failed', { schema: { params: RunIdParamsSchema } }, async (request, reply) => {
    const run = await app.farm.runs.get(request.params.id);
    const retried = await retryFailed(app.farm.redis, app.farm.prefix, app.farm.runs, app.farm.queues, run.id, app.farm.taskAttempts);
    return reply.code(202).send({ id: run.id, retried });
  });
};
