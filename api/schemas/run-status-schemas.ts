import { Type, type TSchema } from '@sinclair/typebox';
import { RUN_STATES } from '../../core/runs/run-state.js';
import { STAGES } from '../../core/stages.js';

/**
 * What GET /v1/runs and GET /v1/runs/:id answer: core/runs/run-status.ts `RunStatus`, described
 * field by field for the OpenAPI document. The status grows over time; a client should ignore
 * fields it does not know. (Responses are serialized with JSON.stringify, see api/app.ts, so a
 * field missing here is still sent, never dropped.)
 */

const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description ? { description } : {}) });
const Usd = (description?: string) => Type.Number({ ...(description ? { description } : {}) });
const Timestamp = (description: string) => Type.String({ format: 'date-time', description });

/** An object with an optional entry per stage name (a stage appears once it has work). */
export function perStage<T extends TSchema>(schema: T, description: string) {
  return Type.Partial(Type.Object(Object.fromEntries(STAGES.map((stage) => [stage, schema])) as Record<(typeof STAGES)[number], T>), { description });
}

const Tokens = Type.Object(
  { prompt: Count(), cached: Count('The part of `prompt` served from a prompt cache.'), output: Count(), thoughts: Count() },
  { description: 'Tokens of every call so far.' },
);

const StageStatusSchema = Type.Object({
  queued: Count('Tasks waiting in the stage queue.'),
  active: Count('Tasks being worked on right now.'),
  done: Count(),
  accepted: Count(),
  rejected: Count(),
  failed: Count('Tasks that used up their attempts (dead letters).'),
  items: Count('Items handed to the next stage (facts, types, ideas, prompts…).'),
  rejectedByReason: Type.Record(Type.String(), Count(), { description: 'Rejections by filter rule, e.g. `min-length`, `audit:<pattern>`.' }),
});

const SpendLineSchema = Type.Object({
  calls: Count(),
  tokens: Tokens,
  usd: Usd('USD of the calls whose model has a price.'),
  unpricedCalls: Count(),
  cacheSavingUsd: Usd(),
});

const BudgetStatusSchema = Type.Object(
  {
    usd: Usd('The cap.'),
    spentUsd: Usd(),
    reservedUsd: Usd('Worst cases of the calls in flight.'),
    refused: Type.Optional(Type.String({ description: 'The call the cap refused, while that refusal stands.' })),
  },
  { description: 'The run\'s budget, when it has one.' },
);

const BatchStatusSchema = Type.Object(
  {
    batches: Type.Record(Type.String(), Count(), { description: 'Batches by state (submitting, pending, running, succeeded, failed, expired, cancelled, refused, empty).' }),
    requests: Type.Object({ pending: Count(), inBatches: Count(), answered: Count(), failed: Count(), requeued: Count(), online: Count() }),
    limits: Type.Record(Type.String(), Type.String(), { description: 'Per model, why its batches cannot be submitted right now.' }),
  },
  { description: 'Runs with batch-mode stages only.' },
);

const PromptCacheSchema = Type.Object({
  model: Type.String(),
  stages: Type.Array(Type.String()),
  state: Type.Union([Type.Literal('creating'), Type.Literal('live'), Type.Literal('refused')]),
  tokens: Type.Optional(Count()),
  expireTime: Type.Optional(Timestamp('When Gemini drops the cache.')),
});

export const RunStatusSchema = Type.Object(
  {
    id: Type.String({ pattern: '^run_[a-z0-9]+$' }),
    name: Type.String(),
    state: Type.Union(RUN_STATES.map((s) => Type.Literal(s))),
    createdAt: Timestamp('When the run was submitted.'),
    startedAt: Type.Optional(Timestamp('When its first task was enqueued.')),
    finishedAt: Type.Optional(Timestamp('When it reached a final state.')),
    error: Type.Optional(Type.String({ description: 'Why it failed.' })),
    quota: Type.Optional(Type.String({ description: "Set when a model's quota stops the run's work." })),
    stages: perStage(StageStatusSchema, 'Progress per stage.'),
    tokens: Tokens,
    calls: Count('Model calls, failed attempts included.'),
    costUsd: Usd('USD of the calls whose model has a price: a lower bound when `unpricedCalls` > 0.'),
    cacheSavingUsd: Usd('What cached prompt tokens saved.'),
    spend: Type.Object({ stages: Type.Record(Type.String(), SpendLineSchema), models: Type.Record(Type.String(), SpendLineSchema) }, { description: 'Calls, tokens and USD per stage and per model.' }),
    unpricedCalls: Count('Calls of models with no price: their cost is unknown, not zero.'),
    unpricedModels: Type.Array(Type.String()),
    cache: Type.Object({ hits: Count(), misses: Count(), savedUsd: Usd() }, { description: 'The response cache: answers it gave (no call, no cost), answers it lacked, USD it saved.' }),
    deadLetters: Count('Tasks that used up their attempts (GET /v1/runs/{id}/failed).'),
    budget: Type.Optional(BudgetStatusSchema),
    batch: Type.Optional(BatchStatusSchema),
    promptCaches: Type.Array(PromptCacheSchema, { description: "The run's explicit Gemini caches (gone once the run ends)." }),
  },
  { description: 'A run and its progress. Fields are added over time: ignore the ones you do not know.' },
);

const StageProjectionSchema = Type.Object({
  model: Type.String(),
  tasks: Count('Most tasks of the stage, given the progress so far.'),
  done: Count(),
  remaining: Count(),
  spentUsd: Usd(),
  usdPerTask: Usd('USD per task the remaining ones are projected at.'),
  basis: Type.Union([Type.Literal('observed'), Type.Literal('estimate')]),
  projectedUsd: Usd(),
});

const DailyBudgetSchema = Type.Object({
  usd: Usd('The daily budget (SDF_DAILY_BUDGET_USD).'),
  day: Type.String({ description: 'The Pacific day it counts.' }),
  spentUsd: Usd(),
  reservedUsd: Usd(),
  resetsInMs: Count('Until the Pacific day ends.'),
});

export const RunDetailSchema = Type.Composite(
  [
    RunStatusSchema,
    Type.Object({
      projection: Type.Object(
        {
          spentUsd: Usd('USD of every call so far; a lower bound when some models are unpriced.'),
          projectedUsd: Usd('What the whole run is projected to cost.'),
          stages: perStage(StageProjectionSchema, 'Projection per stage.'),
          unpricedModels: Type.Array(Type.String()),
        },
        { description: 'The cost projection (README, Cost).' },
      ),
      dailyBudgets: Type.Optional(Type.Record(Type.String(), DailyBudgetSchema, { description: "The farm's daily budgets of the models this run calls." })),
    }),
  ],
  { description: 'A run, its progress and its cost projection. Fields are added over time: ignore the ones you do not know.' },
);

export const RunListSchema = Type.Object({ runs: Type.Array(RunStatusSchema, { description: 'Newest first.' }) });
