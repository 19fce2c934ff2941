import { Ajv, type ErrorObject } from 'ajv';
import { SpecError } from '../errors.js';
import { RunSpecSchema, type RunSpec } from './run-spec-schema.js';
import { filterSpecProblems } from '../filters/filter-spec.js';
import { budgetProblems } from '../budget/budget-spec.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile<RunSpec>(RunSpecSchema);

/** `/documents/docsPerIdea` → `documents.docsPerIdea`; array indexes as `[2]`. */
function toPath(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'additionalProperties') parts.push(String(error.params.additionalProperty));
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty));
  let path = '';
  for (const part of parts) path += /^\d+$/.test(part) ? `[${part}]` : path ? `.${part}` : part;
  return path || '(spec)';
}

function describe(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'enum') return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return error.message ?? 'is invalid';
}

export interface SpecCheckOptions {
  /** Whether the farm's price table (SDF_PRICES_FILE included) prices a model; a budget needs every model priced. Default: the built-in table. */
  priced?: (model: string) => boolean;
}

/** Every problem of the spec, one `path: message` each; empty when valid. */
export function runSpecProblems(spec: unknown, options: SpecCheckOptions = {}): string[] {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return ['(spec): must be an object'];
  if (validate(spec)) return semanticProblems(spec, options);
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    seen.add(`${toPath(error)}: ${describe(error)}`);
  }
  return [...seen];
}

function semanticProblems(spec: RunSpec, options: SpecCheckOptions): string[] {
  const problems: string[] = [];
  if (!spec.documents && !spec.chats) problems.push('(spec): must ask for documents, chats, or both');
  if (spec.universe.trim() === '') problems.push('universe: must not be blank');
  problems.push(...filterSpecProblems(spec.filters));
  problems.push(...budgetProblems(spec, options.priced));
  return problems;
}

/** Returns the spec typed, or throws SpecError listing every problem. */
export function validateRunSpec(spec: unknown, options: SpecCheckOptions = {}): RunSpec {
  const problems = runSpecProblems(spec, options);
  if (problems.length > 0) throw new SpecError(problems);
  return spec as RunSpec;
}
