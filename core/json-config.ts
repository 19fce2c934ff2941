import { ConfigError } from './errors.js';

/**
 * A per-model JSON setting (`SDF_LIMITS`, `SDF_DAILY_BUDGET_USD`): the object it holds, or
 * undefined when unset. A bad value throws naming the variable and the shape it needs.
 */
export function parseModelMap(json: string | undefined, source: string, shape: string): Record<string, unknown> | undefined {
  if (!json) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${source}: must be an object of ${shape}`);
  return value as Record<string, unknown>;
}
