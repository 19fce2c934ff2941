import { Type } from '@sinclair/typebox';
import { BudgetSchema, RunSpecSchema } from '../../core/spec/run-spec-schema.js';
import { DETAIL_EXAMPLE, ESTIMATE_EXAMPLE, EXAMPLE_RUN_ID, MINIMAL_SPEC_EXAMPLE, SPEC_EXAMPLE, STATUS_EXAMPLE } from './api-examples.js';
import { documentedBody } from './documented-body.js';
import { AUTH_ERRORS, V1_SECURITY, errorResponses } from './error-responses.js';
import { BudgetChangeSchema, CancelledSchema, DeletedSchema, EstimateSchema, FailedListSchema, RetriedSchema, SubmittedSchema } from './run-action-schemas.js';
import { RunDetailSchema, RunListSchema } from './run-status-schemas.js';

/** The OpenAPI side of api/routes/runs.ts: what each route is, answers and takes. */

const tags = ['runs'];
const ID_ERRORS = { 400: { description: 'The id is not a run id (`run_…`).', example: { error: 'params/id must match pattern "^run_[a-z0-9]+$"' } }, 404: {} } as const;
const RUN_SPEC_BODY = {
  schema: RunSpecSchema,
  examples: {
    documentsAndChats: { summary: 'Documents and chats, with a budget', value: SPEC_EXAMPLE },
    minimal: { summary: 'The least a spec needs', value: MINIMAL_SPEC_EXAMPLE },
  },
};

export const runRouteSchemas = {
  submit: {
    summary: 'Submit a run',
    description:
      'Creates a run from a run spec (JSON, or YAML with `content-type: application/yaml`) and answers 202 with its id; the producer starts it. ' +
      'An invalid spec is refused with every problem by path. `?dryRun=true`: the same validation, then the cost estimate (200); nothing is created.',
    tags,
    security: V1_SECURITY,
    response: {
      200: Type.Composite([EstimateSchema], { description: EstimateSchema.description, examples: [ESTIMATE_EXAMPLE] }),
      202: Type.Composite([SubmittedSchema], { description: 'The run is queued (or, with a reused Idempotency-Key and the same body, it was already).', examples: [{ id: EXAMPLE_RUN_ID, state: 'queued', created: true }] }),
      ...errorResponses({
        400: {
          description: 'The spec is invalid (or not valid YAML/JSON): `problems` lists every problem by path.',
          example: { error: 'invalid run spec', problems: ['universe: must NOT have fewer than 1 characters', 'documents.docsPerIdea: is required', 'stages.nope: is not a known field'] },
        },
        ...AUTH_ERRORS,
        409: { description: 'The Idempotency-Key was used before with another body.', example: { error: 'Idempotency-Key "nightly-2026-12-02" was used with a different body' } },
        415: {},
        422: { description: 'The spec exceeds a limit the operator set (quota ceiling, allowed models, tasks per run, universe length, body size): `problems` names each with its number.', example: { error: "run spec exceeds the farm's limits", problems: ["universe: 250000 characters, above the farm's maximum of 200000"] } },
        429: {},
      }),
    },
  },
  // The route validates the spec itself (core/spec/validate-run-spec.ts), so it is documented, not put in schema.body.
  submitBody: documentedBody({ 'application/json': RUN_SPEC_BODY, 'application/yaml': RUN_SPEC_BODY }),

  list: {
    summary: 'List runs',
    description: 'The status of each run, newest first (without the cost projection: see GET /v1/runs/{id}).',
    tags,
    security: V1_SECURITY,
    response: { 200: Type.Composite([RunListSchema], { description: 'The runs.', examples: [{ runs: [STATUS_EXAMPLE] }] }), ...errorResponses({ 400: {}, ...AUTH_ERRORS }) },
  },

  status: {
    summary: "A run's status",
    description: 'State, progress per stage, calls, tokens, cost and spend, cache, budget, batches, and the cost projection.',
    tags,
    security: V1_SECURITY,
    response: { 200: Type.Composite([RunDetailSchema], { description: RunDetailSchema.description, examples: [DETAIL_EXAMPLE] }), ...errorResponses({ ...ID_ERRORS, ...AUTH_ERRORS }) },
  },

  change: {
    summary: "Change a run's budget",
    description: 'Sets the budget cap of a run (every model it calls must have a price). Raising it resumes a `budget_exhausted` run. Only `budget` can be changed.',
    tags,
    security: V1_SECURITY,
    response: {
      200: Type.Composite([BudgetChangeSchema], { description: BudgetChangeSchema.description, examples: [{ id: EXAMPLE_RUN_ID, budget: { usd: 10, previousUsd: 5 }, resumes: true }] }),
      ...errorResponses({
        400: { description: 'Not a budget change, or a model of the run has no price: `problems` says which.', example: { error: 'invalid run change', problems: ['budget.usd: must be > 0'] } },
        ...AUTH_ERRORS,
        404: {},
      }),
    },
  },
  changeBody: documentedBody({
    'application/json': {
      schema: Type.Object({ budget: BudgetSchema }, { additionalProperties: false }),
      examples: { raise: { summary: 'Raise the cap to 10 USD', value: { budget: { usd: 10 } } } },
    },
  }),

  cancel: {
    summary: 'Cancel a run',
    description: 'Moves an active run to `cancelled` and removes its waiting tasks; a run that has ended is left as it is.',
    tags,
    security: V1_SECURITY,
    response: {
      200: Type.Composite([CancelledSchema], { description: CancelledSchema.description, examples: [{ id: EXAMPLE_RUN_ID, state: 'cancelled', cancelled: true }] }),
      ...errorResponses({ ...ID_ERRORS, ...AUTH_ERRORS }),
    },
  },

  remove: {
    summary: 'Delete a run',
    description: 'Cancels the run if it is active, then removes its Redis state (record, counters, done bits, corpus statistics, dead letters, jobs) and its files.',
    tags,
    security: V1_SECURITY,
    response: {
      200: Type.Composite([DeletedSchema], { description: DeletedSchema.description, examples: [{ id: EXAMPLE_RUN_ID, deleted: true, keys: 14, jobs: 3 }] }),
      ...errorResponses({ ...ID_ERRORS, ...AUTH_ERRORS }),
    },
  },

  failed: {
    summary: "A run's failed tasks",
    description: 'The dead-lettered tasks of the run (those that used up their attempts), with their last error.',
    tags,
    security: V1_SECURITY,
    response: {
      200: Type.Composite([FailedListSchema], {
        description: FailedListSchema.description,
        examples: [{ failed: [{ id: `${EXAMPLE_RUN_ID}.documents.17`, stage: 'documents', index: 17, error: 'Gemini 400: prompt blocked (SAFETY)', attempts: 3, input: { f: 0, t: 1, i: 2, d: 0 } }] }],
      }),
      ...errorResponses({ ...ID_ERRORS, ...AUTH_ERRORS }),
    },
  },

  retryFailed: {
    summary: "Retry a run's failed tasks",
    description: 'Puts every dead-lettered task of the run back in its queue with fresh attempts; a `completed` or `failed` run becomes `running` again (a `budget_exhausted` one stays stopped until its budget is raised).',
    tags,
    security: V1_SECURITY,
    response: {
      202: Type.Composite([RetriedSchema], { description: RetriedSchema.description, examples: [{ id: EXAMPLE_RUN_ID, retried: 4 }] }),
      ...errorResponses({ ...ID_ERRORS, ...AUTH_ERRORS, 409: { description: 'The run is cancelled.', example: { error: `run ${EXAMPLE_RUN_ID} is cancelled; its failed tasks cannot be retried` } } }),
    },
  },
};
