import type { PriceTable } from '../core/cost/price-table.js';
import type { PromptLibrary } from '../core/prompts/prompt-library.js';
import { renderTemplate } from '../core/prompts/render-template.js';
import { resolveStageSettings } from '../core/spec/resolve-stage-settings.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { STAGES, type Stage } from '../core/stages.js';
import { ASSUMPTIONS, CHARS_PER_TOKEN, stageAssumption } from './estimate-assumptions.js';
import { planRun } from './expansion-plan.js';
import { taskBounds } from './task-bounds.js';

/**
 * What a run will cost, before it starts and without calling a model: per stage, the most tasks
 * the fan-out allows (task-bounds.ts), the prompt's tokens from the stage's templates rendered
 * with the spec (its prompt overrides included) and assumed inputs, and a range of answer lengths
 * (estimate-assumptions.ts), priced with the farm's price table.
 */
export interface Range {
  low: number;
  high: number;
}

export interface StageEstimate {
  model: string;
  /** Most tasks of the stage (an upper bound). */
  tasks: number;
  /** Model calls in all: one per task (low) to every retry a task may make (high). */
  calls: Range;
  /** Prompt tokens of one call (high: with the longest inputs, e.g. a revised draft at the documents cap). */
  inputTokensPerCall: Range;
  /** Answer tokens of one call: typical (low) to the output cap (high). */
  outputTokensPerCall: Range;
  /** USD of the stage at the price it runs at; null when its model has no price. */
  usd: Range | null;
  /** The same calls at the Batch API price (for comparison). */
  batchUsd: Range | null;
  /** USD of one task (low: one typical call): the status projection's basis before a task is done. */
  usdPerTask: Range | null;
}

export interface RunEstimate {
  stages: Partial<Record<Stage, StageEstimate>>;
  tasks: number;
  calls: Range;
  /** Priced stages only: with `unpricedModels`, a lower bound. */
  usd: Range;
  batchUsd: Range;
  unpricedModels: string[];
  assumptions: string[];
}

export interface EstimateOptions {
  prices: PriceTable;
  prompts: PromptLibrary;
  /** Stages that run through the Batch API (priced at the batch discount). @defaultValue none */
  batch?: (stage: Stage) => boolean;
}

function tokensOf(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** Prompt tokens of one call: the system instruction and the user turn, rendered as the worker renders them. */
function promptTokens(spec: RunSpec, prompts: PromptLibrary, stage: Stage, values: Record<string, unknown>): number {
  const template = prompts.get(stage);
  const override = spec.prompts?.[stage];
  const user = renderTemplate(override?.user ?? template.user, values);
  const systemTemplate = override?.system ?? template.system;
  const system = systemTemplate ? renderTemplate(systemTemplate, { universe: spec.universe, ...values }) : '';
  // A structured stage also sends its JSON schema; Gemini counts it as prompt.
  const schema = template.schema ? JSON.stringify(template.schema) : '';
  return tokensOf(system) + tokensOf(user) + tokensOf(schema);
}

/** To a millionth of a dollar (a billionth per task): a figure to read, not a ledger. */
const round = (usd: number, per = 1e6) => Math.round(usd * per) / per;
const add = (a: Range, b: Range): Range => ({ low: a.low + b.low, high: a.high + b.high });

/** The run's fan-out as the estimate counts it: most tasks per stage that calls a model (seeded stages left out), and in all. */
export function upperBoundTasks(spec: RunSpec, plan = planRun(spec)): { tasks: number; stages: Partial<Record<Stage, number>> } {
  const bounds = taskBounds(spec, {}, plan);
  const stages: Partial<Record<Stage, number>> = {};
  let tasks = 0;
  for (const stage of STAGES.filter((s) => plan.stages.includes(s))) {
    const n = bounds[stage]?.tasks ?? 0;
    if (n === 0) continue;
    stages[stage] = n;
    tasks += n;
  }
  return { tasks, stages };
}

export function estimateRun(spec: RunSpec, options: EstimateOptions): RunEstimate {
  const plan = planRun(spec);
  const taskCounts = upperBoundTasks(spec, plan).stages;
  const caps = Object.fromEntries(plan.stages.map((s) => [s, resolveStageSettings(spec, s).maxOutputTokens])) as Partial<Record<Stage, number>>;
  const stages: Partial<Record<Stage, StageEstimate>> = {};
  const unpriced = new Set<string>();
  let total: RunEstimate = { stages, tasks: 0, calls: { low: 0, high: 0 }, usd: { low: 0, high: 0 }, batchUsd: { low: 0, high: 0 }, unpricedModels: [], assumptions: ASSUMPTIONS };

  for (const stage of STAGES.filter((s) => plan.stages.includes(s))) {
    const tasks = taskCounts[stage] ?? 0;
    // A seeded root (given keyFacts or traits) makes no call.
    if (tasks === 0) continue;
    const { model, maxOutputTokens } = resolveStageSettings(spec, stage);
    const assumed = stageAssumption(spec, stage, caps);
    const input = { low: promptTokens(spec, options.prompts, stage, assumed.values), high: promptTokens(spec, options.prompts, stage, assumed.longestValues) };
    const output = { low: assumed.typicalOutputTokens, high: maxOutputTokens };
    const calls = { low: tasks, high: tasks * assumed.maxCallsPerTask };
    const callUsd = (which: 'low' | 'high', batch: boolean) => options.prices.costOf(model, { promptTokens: input[which], outputTokens: output[which], thoughtsTokens: 0 }, { batch });
    const priced = options.prices.priceOf(model) !== undefined;
    if (!priced) unpriced.add(model);
    const usdAt = (batch: boolean): Range | null => (priced ? { low: round(calls.low * callUsd('low', batch)!), high: round(calls.high * callUsd('high', batch)!) } : null);
    const usd = usdAt(options.batch?.(stage) ?? false);
    const batchUsd = usdAt(true);
    stages[stage] = {
      model,
      tasks,
      calls,
      inputTokensPerCall: input,
      outputTokensPerCall: output,
      usd,
      batchUsd,
      usdPerTask: usd && { low: round(usd.low / tasks, 1e9), high: round(usd.high / tasks, 1e9) },
    };
    total = {
      ...total,
      tasks: total.tasks + tasks,
      calls: add(total.calls, calls),
      usd: usd ? add(total.usd, usd) : total.usd,
      batchUsd: batchUsd ? add(total.batchUsd, batchUsd) : total.batchUsd,
    };
  }
  return { ...total, usd: { low: round(total.usd.low), high: round(total.usd.high) }, batchUsd: { low: round(total.batchUsd.low), high: round(total.batchUsd.high) }, unpricedModels: [...unpriced] };
}
