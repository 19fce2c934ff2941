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

/** A run spec's limits over the farm's defaults, field by field. */
export function limitsFor(model: string, defaults: LimitsTable, spec?: LimitsTable): ModelLimits | undefined {
  const merged = { ...defaults[model], ...spec?.[model] };
  return Object.keys(merged).length > 0 ? merged : undefined;
}
