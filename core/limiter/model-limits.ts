import { ConfigError } from '../errors.js';
import { parseModelMap } from '../json-config.js';
import type { ModelLimits } from '../spec/run-spec-schema.js';

export type { ModelLimits };
export type LimitsTable = Record<string, ModelLimits>;

const FIELDS = ['rpm', 'tpm', 'rpd'] as const;

/** Parses `SDF_LIMITS` (JSON `{"<model>": {"rpm": n, "tpm": n, "rpd": n}}`); errors name the field. */
export function parseLimits(json: string | undefined, source = 'SDF_LIMITS'): LimitsTable {
  const value = parseModelMap(json, source, 'model → {rpm, tpm, rpd}');
  if (!value) return {};
  const table: LimitsTable = {};
  for (const [model, limits] of Object.entries(value)) {
    if (!limits || typeof limits !== 'object' || Array.isArray(limits)) throw new ConfigError(`${source}.${model}: must be an object {rpm, tpm, rpd}`);
    const entry: ModelLimits = {};
    for (const [field, n] of Object.entries(limits as Record<string, unknown>)) {
      if (!(FIELDS as readonly string[]).includes(field)) throw new ConfigError(`${source}.${model}.${field}: is not a known field (rpm, tpm, rpd)`);
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ConfigError(`${source}.${model}.${field}: must be a positive integer`);
      entry[field as (typeof FIELDS)[number]] = n;
    }
    table[model] = entry;
  }
  return table;
}

/**
 * A run's quotas for a model: the farm's (SDF_LIMITS) are a ceiling, so field by field the lower
 * of the two applies. Submission refuses a spec above the ceiling; taking the lower here too keeps
 * a run submitted before the operator lowered SDF_LIMITS under the new ceiling.
 */
export function limitsFor(model: string, defaults: LimitsTable, spec?: LimitsTable): ModelLimits | undefined {
  const farm = defaults[model] ?? {};
  const merged: ModelLimits = { ...farm, ...spec?.[model] };
  for (const field of FIELDS) {
    const ceiling = farm[field];
    if (ceiling !== undefined && merged[field] !== undefined && merged[field] > ceiling) merged[field] = ceiling;
  }
  return Object.keys(merged).length > 0 ? merged : undefined;
}
