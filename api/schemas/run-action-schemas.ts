import { Type, type TSchema } from '@sinclair/typebox';
import { STAGES } from '../../core/stages.js';
import { perStage } from './run-status-schemas.js';

/** Response schemas of the routes that act on a run, and of the pattern report. */

const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description ? { description } : {}) });
const RunId = Type.String({ pattern: '^run_[a-z0-9]+$' });
const Range = Type.Object({ low: Type.Number(), high: Type.Number() });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const SubmittedSchema = Type.Object({
  id: RunId,
  state: Type.String({ description: 'The run\'s state: `queued` for a new run.' }),
  created: Type.Boolean({ description: 'false when an Idempotency-Key named a run submitted before with the same body.' }),
});

const StageEstimateSchema = Type.Object({
  model: Type.String(),
  tasks: Count('Most tasks of the stage (an upper bound).'),
  calls: Range,
  inputTokensPerCall: Range,
  outputTokensPerCall: Range,
  usd: Nullable(Range, 'USD of the stage at the price it runs at; null when its model has no price.'),
  batchUsd: Nullable(Range, 'The same calls at the Batch API price.'),
  usdPerTask: Nullable(Range, 'USD of one task.'),
});

export const EstimateSchema = Type.Object(
  {
    dryRun: Type.Literal(true),
    stages: perStage(StageEstimateSchema, 'Estimate per stage.'),
    tasks: Count(),
    calls: Range,
    usd: Type.Object({ low: Type.Number(), high: Type.Number() }, { description: 'Priced stages only: with `unpricedModels`, a lower bound.' }),
    batchUsd: Range,
    unpricedModels: Type.Array(Type.String()),
    assumptions: Type.Array(Type.String()),
  },
  { description: '`?dryRun=true`: the spec is valid; what it would cost. Nothing was created.' },
);

export const BudgetChangeSchema = Type.Object(
  {
    id: RunId,
    budget: Type.Object({ usd: Type.Number(), previousUsd: Type.Optional(Type.Number({ description: 'The cap before this change, if there was one.' })) }),
    resumes: Type.Boolean({ description: 'true when the run was `budget_exhausted` and the new cap lets it go on.' }),
  },
  { description: 'The budget was set.' },
);

export const CancelledSchema = Type.Object(
  {
    id: RunId,
    state: Type.String(),
    cancelled: Type.Boolean({ description: 'false when the run had already ended (its state is unchanged).' }),
  },
  { description: 'The run is cancelled, or had already ended.' },
);

export const DeletedSchema = Type.Object(
  {
    id: RunId,
    deleted: Type.Literal(true),
    keys: Count('Redis keys removed.'),
    jobs: Count('Queued jobs removed.'),
  },
  { description: 'The run is gone: its Redis state and its files.' },
);

const DeadLetterSchema = Type.Object({
  id: Type.String({ description: 'The task id.' }),
  stage: Type.Union(STAGES.map((s) => Type.Literal(s))),
  index: Count(),
  error: Type.String({ description: 'The last attempt\'s error.' }),
  attempts: Count(),
  input: Type.Object({}, { description: 'What the task needed beyond the run spec (fact, idea, trait, prompt…).' }),
});

export const FailedListSchema = Type.Object({ failed: Type.Array(DeadLetterSchema, { description: 'At most 1000.' }) }, { description: 'The run\'s dead-lettered tasks.' });

export const RetriedSchema = Type.Object(
  { id: RunId, retried: Count('Dead letters put back in their queues.') },
  { description: 'The dead letters were re-driven; the run goes on.' },
);

const AuditReportSchema = Type.Object({
  sampled: Count(),
  maxPrevalence: Type.Number(),
  patterns: Type.Array(
    Type.Object({
      name: Type.String(),
      definition: Type.String(),
      marker: Type.Optional(Type.String({ description: '`|`-separated literal phrases that identify the pattern.' })),
      markerRecall: Type.Optional(Type.Number()),
      carriers: Count(),
      prevalence: Type.Number(),
      ci: Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: '95% Wilson interval of the prevalence.' }),
      active: Type.Boolean({ description: 'Above `maxPrevalence`: new records carrying it are rejected.' }),
      examples: Type.Array(Type.String()),
    }),
  ),
  at: Type.String({ format: 'date-time' }),
});

const CorpusSchema = Type.Object({
  accepted: Count('Records the corpus gate has counted.'),
  top: Type.Array(Type.Object({ family: Type.Union([Type.Literal('opening'), Type.Literal('name'), Type.Literal('ngram')]), label: Type.String(), count: Count(), share: Type.Number() }), {
    description: 'The 30 most frequent features.',
  }),
});

export const PatternsSchema = Type.Object(
  {
    id: RunId,
    audit: Type.Object({ documents: Nullable(AuditReportSchema, 'null until an audit ran.'), chats: Nullable(AuditReportSchema, 'null until an audit ran.') }),
    ceilings: Type.Object({ openings: Type.Number(), names: Type.Number(), ngrams: Type.Number() }, { description: 'Most share of the corpus one feature may have.' }),
    corpus: Type.Object({ documents: CorpusSchema, chats: CorpusSchema }),
  },
  { description: 'The latest LLM audit per kind and the most frequent corpus features.' },
);
