import { ConfigError } from '../errors.js';
import { parseModelMap } from '../json-config.js';
import { MAX_BUDGET_USD } from '../spec/run-spec-schema.js';

/** USD a model may spend per Pacific day, farm-wide, by model. */
export type DailyBudgets = Record<string, number>;

/**
 * Parses `SDF_DAILY_BUDGET_USD` (JSON `{"<model>": usd}`); errors name the field. Prices are not
 * checked here (config knows none): a worker refuses to start with a daily budget for a model
 * that has no price (workers/main.ts), since it could not count that model's calls.
 */
export function parseDailyBudgets(json: string | undefined, source = 'SDF_DAILY_BUDGET_USD'): DailyBudgets {
  const value = parseModelMap(json, source, 'model → USD per day, like {"gemini-2.5-pro": 50}');
  if (!value) return {};
  const budgets: DailyBudgets = {};
  for (const [model, usd] of Object.entries(value)) {
    if (typeof usd !== 'number' || !Number.isFinite(usd) || usd <= 0) throw new ConfigError(`${source}.${model}: must be a number > 0 (USD per Pacific day)`);
    if (usd > MAX_BUDGET_USD) throw new ConfigError(`${source}.${model}: must be <= ${MAX_BUDGET_USD}`);
    budgets[model] = usd;
  }
  return budgets;
}
