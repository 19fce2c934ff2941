import { Ajv } from 'ajv';
import { SpecError } from '../errors.js';
import { schemaProblems } from './schema-problems.js';
import { RunSpecSchema, type RunSpec } from './run-spec-schema.js';
import { filterSpecProblems } from '../filters/filter-spec.js';
import { budgetProblems } from '../budget/budget-spec.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile<RunSpec>(RunSpecSchema);

export interface SpecCheckOptions {
  /** Whether the farm's price table (SDF_PRICES_FILE included) prices a model; a budget needs every model priced. Default: the built-in table. */
  priced?: (model: string) => boolean;
}

/** Every problem of the spec, one `path: message` each; empty when valid. */
export function runSpecProblems(spec: unknown, options: SpecCheckOptions = {}): string[] {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return ['(spec): must be an object'];
  if (validate(spec)) return semanticProblems(spec, options);
  return schemaProblems(validate.errors);
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
