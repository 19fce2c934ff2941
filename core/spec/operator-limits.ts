import type { LimitsTable } from '../limiter/model-limits.js';
import { namedModels } from './named-models.js';
import type { RunSpec } from './run-spec-schema.js';

/**
 * Limits the farm's operator sets and a run spec cannot exceed: checked at submission (dry runs
 * included), after the spec itself is valid. A spec over any of them is refused with 422 and one
 * problem per limit, naming the field, the number asked and the limit.
 */
export interface OperatorLimits {
  /** Models a spec may name or fall back to (SDF_ALLOWED_MODELS). @defaultValue undefined (any model) */
  allowedModels?: readonly string[] | undefined;
  /** The farm's quotas per model (SDF_LIMITS): a spec's `limits` may ask for less, never more. @defaultValue {} */
  modelLimits?: LimitsTable;
  /** Most tasks one run may have, its upper bound as the dry-run estimate counts it (SDF_MAX_RUN_TASKS). @defaultValue 10,000,000 */
  maxRunTasks?: number;
  /** Most characters in a spec's `universe` (SDF_MAX_UNIVERSE_CHARS). @defaultValue 200,000 */
  maxUniverseChars?: number;
}

export const OPERATOR_LIMIT_DEFAULTS = {
  maxRunTasks: 10_000_000,
  maxUniverseChars: 200_000,
  /** Most bytes in a request body (SDF_MAX_BODY_BYTES): enforced by Fastify's bodyLimit, answered 422. */
  maxBodyBytes: 10 * 1024 * 1024,
  /** Requests per minute per bearer token, else per client IP (SDF_API_RATE_LIMIT); 0 is off. */
  apiRateLimit: 600,
} as const;

/** What the spec's fan-out comes to, computed by the caller (the API route) with the dry-run estimate. */
export interface RunSize {
  /** The run's upper-bound task count, all stages together (`estimateRun(spec).tasks`). */
  tasks: number;
  /** Tasks per stage, named in the problem so the spec's author sees where the fan-out comes from. */
  stages?: Record<string, number>;
}

/** `limits.<model>.<field>` above the farm's quota for that model. */
export function quotaCeilingProblems(spec: RunSpec, ceilings: LimitsTable = {}): string[] {
  const problems: string[] = [];
  for (const [model, asked] of Object.entries(spec.limits ?? {})) {
    for (const [field, value] of Object.entries(asked) as [keyof typeof asked, number | undefined][]) {
      const ceiling = ceilings[model]?.[field];
      if (value !== undefined && ceiling !== undefined && value > ceiling) {
        problems.push(`limits.${model}.${field}: model "${model}" asks for ${field} ${value}, above the farm's ceiling of ${ceiling} (SDF_LIMITS); ask for ${ceiling} or less`);
      }
    }
  }
  return problems;
}

/** Every field naming a model off the allow-list, and every stage whose default model is off it. */
export function allowedModelProblems(spec: RunSpec, allowed: readonly string[] | undefined): string[] {
  return modelsOffList(namedModels(spec), allowed);
}

/** The named models (`{path, model, byDefault?}`) that are not on the allow-list, one problem each. */
function modelsOffList(named: readonly { path: string; model: string; byDefault?: boolean }[], allowed: readonly string[] | undefined): string[] {
  if (!allowed) return [];
  const list = allowed.join(', ');
  return named
    .filter(({ model }) => !allowed.includes(model))
    .map(({ path, model, byDefault }) =>
      byDefault
        ? `${path}: the default model "${model}" is not allowed on this farm; name one of the allowed models: ${list} (SDF_ALLOWED_MODELS)`
        : `${path}: model "${model}" is not allowed on this farm; allowed: ${list} (SDF_ALLOWED_MODELS)`,
    );
}

function universeProblems(universe: string, limits: OperatorLimits): string[] {
  const maxChars = limits.maxUniverseChars ?? OPERATOR_LIMIT_DEFAULTS.maxUniverseChars;
  return universe.length > maxChars ? [`universe: ${universe.length} characters, above the farm's maximum of ${maxChars} (SDF_MAX_UNIVERSE_CHARS)`] : [];
}

/** Every way the spec exceeds the operator's limits; empty when it fits. */
export function operatorLimitProblems(spec: RunSpec, size: RunSize, limits: OperatorLimits = {}): string[] {
  const maxTasks = limits.maxRunTasks ?? OPERATOR_LIMIT_DEFAULTS.maxRunTasks;
  const problems = universeProblems(spec.universe, limits);
  if (size.tasks > maxTasks) {
    const perStage = Object.entries(size.stages ?? {}).map(([stage, tasks]) => `${stage} ${tasks}`).join(', ');
    problems.push(`(spec): the run fans out to up to ${size.tasks} tasks${perStage ? ` (${perStage})` : ''}, above the farm's maximum of ${maxTasks} per run (SDF_MAX_RUN_TASKS); ask for fewer documents or chats`);
  }
  problems.push(...allowedModelProblems(spec, limits.allowedModels));
  problems.push(...quotaCeilingProblems(spec, limits.modelLimits));
  return problems;
}

/**
 * The same limits for an eval: its universe, and every model it calls (targets and judge, the
 * default judge included) on the allow-list. Its fan-out is bounded by the eval schema itself.
 */
export function evalLimitProblems(spec: { universe: string; models: readonly string[]; judge: string; judgeNamed: boolean }, limits: OperatorLimits = {}): string[] {
  const named = [...spec.models.map((model, i) => ({ path: `models[${i}]`, model })), { path: 'judge', model: spec.judge, byDefault: !spec.judgeNamed }];
  return [...universeProblems(spec.universe, limits), ...modelsOffList(named, limits.allowedModels)];
}
