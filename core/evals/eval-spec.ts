import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { SpecError } from '../errors.js';
import { schemaProblems } from '../spec/schema-problems.js';

/**
 * The eval spec: the public contract of `POST /v1/evals`. The schema is the type: ajv validates
 * with it, TypeScript reads `EvalSpec` from it.
 */
export const EvalSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    universe: Type.String({ minLength: 1, description: 'The universe context; its bulleted lines are the traits when `traits` is absent.' }),
    traits: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 100, description: 'Traits to evaluate, each by its text.' })),
    keyFacts: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 100, description: 'Implanted facts whose belief is probed.' })),
    probesPerTrait: Type.Integer({ minimum: 1, maximum: 400, description: 'Held-out probes per trait (and per key fact), spread over the probe kinds.' }),
    models: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 20, description: 'Target models, compared side by side.' }),
    judge: Type.Optional(Type.String({ minLength: 1, description: 'Model that writes the probes and judges the answers. Default gemini-2.5-flash.' })),
    runId: Type.Optional(Type.String({ pattern: '^run_[a-z0-9]+$', description: 'Training run whose chat prompts and document ideas the probes must not repeat.' })),
    threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'A score at or above it counts in `shareAtLeast`. Default 7.' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, description: 'Part of every response-cache key: change it for fresh probes and answers.' })),
  },
  { additionalProperties: false },
);
export type EvalSpec = Static<typeof EvalSpecSchema>;

export const DEFAULT_JUDGE = 'gemini-2.5-flash';
export const DEFAULT_THRESHOLD = 7;

/** The spec with its defaults and its traits resolved: what an eval runs on, stored with it. */
export interface ResolvedEvalSpec extends EvalSpec {
  traits: string[];
  keyFacts: string[];
  judge: string;
  threshold: number;
  seed: number;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile<EvalSpec>(EvalSpecSchema);

/** The universe's bulleted lines (`- `, `* `, `• `), the traits of an eval that names none. */
export function bulletedLines(universe: string): string[] {
  return universe
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[-*•]\s+\S/.test(line))
    .map((line) => line.replace(/^[-*•]\s+/, '').trim());
}

/** Every problem of an eval spec as `field: message`; empty when valid. */
export function evalSpecProblems(spec: unknown): string[] {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return ['(spec): must be an object'];
  if (!validate(spec)) return schemaProblems(validate.errors);
  const problems: string[] = [];
  if (spec.universe.trim() === '') problems.push('universe: must not be blank');
  else if (!spec.traits && bulletedLines(spec.universe).length === 0) problems.push('traits: absent, and the universe has no bulleted lines to take them from');
  const seen = new Set<string>();
  spec.models.forEach((model, i) => {
    if (seen.has(model)) problems.push(`models[${i}]: "${model}" is listed twice`);
    seen.add(model);
  });
  for (const field of ['traits', 'keyFacts'] as const) {
    spec[field]?.forEach((text, i) => {
      if (text.trim() === '') problems.push(`${field}[${i}]: must not be blank`);
    });
  }
  return problems;
}

/** The spec typed and resolved (defaults, traits from the universe), or SpecError naming every problem. */
export function resolveEvalSpec(spec: unknown): ResolvedEvalSpec {
  const problems = evalSpecProblems(spec);
  if (problems.length > 0) throw new SpecError(problems, 'eval spec');
  const valid = spec as EvalSpec;
  return {
    ...valid,
    traits: valid.traits ?? bulletedLines(valid.universe),
    keyFacts: valid.keyFacts ?? [],
    judge: valid.judge ?? DEFAULT_JUDGE,
    threshold: valid.threshold ?? DEFAULT_THRESHOLD,
    seed: valid.seed ?? 0,
  };
}
