import { PriceTable } from '../cost/price-table.js';
import { resolveFilterSpec } from '../filters/filter-spec.js';
import { resolveStageSettings } from '../spec/resolve-stage-settings.js';
import { MAX_BUDGET_USD, type RunSpec } from '../spec/run-spec-schema.js';
import type { Stage } from '../stages.js';

/**
 * What a budget asks of a run and of a change to it. A budget counts the worst-case cost of each
 * call before it is made, so every model the run calls needs a price: a run with a budget and a
 * model without a price is refused (at submission, or when a budget is added), never run with
 * calls its budget cannot see.
 */

const BUILT_IN_PRICES = new PriceTable();

/** Whether the built-in price table knows the model (the farm's own table, SDF_PRICES_FILE included, is passed where it is loaded). */
export function hasPrice(model: string): boolean {
  return BUILT_IN_PRICES.priceOf(model) !== undefined;
}

/** Every model the run's calls use, each with the first place that uses it (`stages.documents`, `filters.audit`). */
export function modelsOfRun(spec: RunSpec): Map<string, string> {
  const stages: Stage[] = [];
  if (spec.documents) {
    if (!spec.keyFacts) stages.push('facts');
    stages.push('doc-types', 'doc-ideas', 'documents');
    if (spec.documents.revise) stages.push('revise');
  }
  if (spec.chats) {
    if (!spec.traits) stages.push('traits');
    stages.push('chat-prompts', 'chat-responses');
    if ((spec.chats.turns ?? 1) > 1) stages.push('chat-user');
  }
  const models = new Map<string, string>();
  for (const stage of stages) {
    const { model } = resolveStageSettings(spec, stage);
    if (!models.has(model)) models.set(model, `stages.${stage}`);
  }
  const audit = resolveFilterSpec(spec.filters).audit;
  if (audit.enabled) {
    // The audit's default model is the documents stage's (workers/audit-worker.ts).
    const model = audit.model ?? resolveStageSettings(spec, 'documents').model;
    if (!models.has(model)) models.set(model, 'filters.audit');
  }
  return models;
}

/** Why a budget cannot apply to this run (its unpriced models), one `budget: …` line each. */
export function unpricedModelProblems(spec: RunSpec, priced: (model: string) => boolean = hasPrice): string[] {
  return [...modelsOfRun(spec)]
    .filter(([model]) => !priced(model))
    .map(([model, where]) => `budget: model "${model}" (${where}) has no price, so a budget cannot count its calls`);
}

/** Problems of a spec's budget beyond its schema: empty when it has none or it can apply. */
export function budgetProblems(spec: RunSpec, priced?: (model: string) => boolean): string[] {
  return spec.budget ? unpricedModelProblems(spec, priced) : [];
}

/** Problems of a `PATCH /v1/runs/:id` body (`{"budget": {"usd": N}}`), each naming its field. */
export function budgetPatchProblems(body: unknown): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return ['(body): must be an object like {"budget": {"usd": 10}}'];
  const problems = Object.keys(body)
    .filter((key) => key !== 'budget')
    .map((key) => `${key}: is not a field that can be changed (only budget)`);
  const budget = (body as { budget?: unknown }).budget;
  if (budget === undefined) return [...problems, 'budget: is required'];
  if (budget === null || typeof budget !== 'object' || Array.isArray(budget)) return [...problems, 'budget: must be an object like {"usd": 10}'];
  for (const key of Object.keys(budget)) if (key !== 'usd') problems.push(`budget.${key}: is not a known field`);
  const usd = (budget as { usd?: unknown }).usd;
  if (usd === undefined) problems.push('budget.usd: is required');
  else if (typeof usd !== 'number' || !Number.isFinite(usd)) problems.push('budget.usd: must be a number');
  else if (usd <= 0) problems.push('budget.usd: must be > 0');
  else if (usd > MAX_BUDGET_USD) problems.push(`budget.usd: must be <= ${MAX_BUDGET_USD}`);
  return problems;
}
