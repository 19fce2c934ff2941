import { Type, type Static } from '@sinclair/typebox';


export const EvalIdParamsSchema = Type.Object({ id: Type.String({ pattern: '^eval_[a-z0-9]+$' }) });
export type EvalIdParams = Static<typeof EvalIdParamsSchema>;

export const EvalSubmittedSchema = Type.Object({ id: Type.String(), state: Type.String() });

/** The status of an eval (core/evals/eval-status.ts); `report` once it is completed (core/evals/eval-report.ts). */
export const EvalStatusSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.Union(['queued', 'running', 'completed', 'cancelled', 'failed'].map((s) => Type.Literal(s))),
    createdAt: Type.String(),
    startedAt: Type.Optional(Type.String()),
    finishedAt: Type.Optional(Type.String()),
    error: Type.Optional(Type.String()),
    spec: Type.Unknown(),
    progress: Type.Unknown(),
    report: Type.Optional(Type.Unknown({ description: 'Per trait and model: mean score with a 95% interval (lower, upper) and shareAtLeast the threshold; per key fact and model: belief shares; held-out check; cost.' })),
  },
  { additionalProperties: true },
);

