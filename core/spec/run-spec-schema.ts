import { Type, type Static, type TOptional, type TSchema } from '@sinclair/typebox';
import { STAGES, type Stage } from '../stages.js';
import { FilterSpecSchema } from '../filters/filter-spec.js';

/**
 * The run spec: the public contract of a run. Fields are added over time, never renamed.
 * The schema is the type: ajv validates with it, TypeScript reads `RunSpec` from it.
 */

/** Fan-out counts stop at a million each: the task bounds walk a run's tree, and a count near 2^53 would hold the API in that walk. */
export const MAX_FAN_OUT = 1_000_000;
const PositiveInt = (description: string) => Type.Integer({ minimum: 1, maximum: MAX_FAN_OUT, description });

/** Most turns a chat may have (`chats.turns`): each turn is two model calls and the whole conversation is resent each time. */
export const MAX_CHAT_TURNS = 20;

/** How a stage's model calls are made: one request each (`online`), or through the Gemini Batch API at about half the price (`batch`). */
export const STAGE_MODES = ['online', 'batch'] as const;
export type StageMode = (typeof STAGE_MODES)[number];
export const StageModeSchema = Type.Unsafe<StageMode>({ type: 'string', enum: [...STAGE_MODES], description: 'online: one request per call; batch: through the Gemini Batch API (50% price, up to 24 h turnaround).' });

export const StageSettingsSchema = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, description: 'Gemini model for this stage.' })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    maxOutputTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    mode: Type.Optional(StageModeSchema),
  },
  { additionalProperties: false },
);

export const ModelLimitsSchema = Type.Object(
  {
    rpm: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Requests per minute, farm-wide.' })),
    tpm: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Input tokens per minute, farm-wide.' })),
    rpd: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Requests per day, farm-wide.' })),
  },
  { additionalProperties: false },
);

/** An object with an optional entry per stage name; an unknown stage is an error. */
function perStage<T extends TSchema>(schema: T) {
  const properties = Object.fromEntries(STAGES.map((stage) => [stage, Type.Optional(schema)])) as unknown as Record<Stage, TOptional<T>>;
  return Type.Object(properties, { additionalProperties: false });
}

/** Most a budget may be: amounts are counted in nano-dollars, exact in Redis up to about 9 million USD. */
export const MAX_BUDGET_USD = 1_000_000;

export const BudgetSchema = Type.Object(
  {
    usd: Type.Number({ exclusiveMinimum: 0, maximum: MAX_BUDGET_USD, description: 'Most the run may spend on model calls, in US dollars (PATCH /v1/runs/:id changes it).' }),
  },
  { additionalProperties: false },
);

export const PromptOverrideSchema = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1 })),
    system: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const RunSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    universe: Type.String({ minLength: 1, description: 'The universe context, e.g. a bulleted traits document.' }),
    keyFacts: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    traits: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    documents: Type.Optional(
      Type.Object(
        {
          model: Type.Optional(Type.String({ minLength: 1 })),
          docTypesPerFact: PositiveInt('Distinct document types per fact.'),
          ideasPerType: PositiveInt('Document ideas per (fact, type).'),
          docsPerIdea: PositiveInt('Documents per idea.'),
          revise: Type.Optional(Type.Boolean({ description: 'Critique and rewrite every document.' })),
        },
        { additionalProperties: false },
      ),
    ),
    chats: Type.Optional(
      Type.Object(
        {
          model: Type.Optional(Type.String({ minLength: 1 })),
          responseModel: Type.Optional(Type.String({ minLength: 1 })),
          promptsPerTrait: PositiveInt('User prompts per trait.'),
          turns: Type.Optional(
            Type.Integer({ minimum: 1, maximum: MAX_CHAT_TURNS, description: 'Assistant turns per chat; above 1 a user simulator (stage chat-user) writes each next user message. Default 1.' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** Every stage's mode unless `stages.<stage>.mode` says otherwise. @defaultValue 'online' */
    mode: Type.Optional(StageModeSchema),
    stages: Type.Optional(perStage(StageSettingsSchema)),
    limits: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ModelLimitsSchema)),
    prompts: Type.Optional(perStage(PromptOverrideSchema)),
    filters: Type.Optional(FilterSpecSchema),
    seed: Type.Optional(
      Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'In every response-cache key: a new seed asks the model for new samples. Default 0.' }),
    ),
    cache: Type.Optional(Type.Boolean({ description: 'Answer identical requests from the response cache (and store this run\'s answers). Default true.' })),
    budget: Type.Optional(BudgetSchema),
  },
  { additionalProperties: false },
);

export type RunSpec = Static<typeof RunSpecSchema>;
export type StageSettings = Static<typeof StageSettingsSchema>;
export type ModelLimits = Static<typeof ModelLimitsSchema>;
export type Budget = Static<typeof BudgetSchema>;
