import { Type, type Static } from '@sinclair/typebox';
import { OUTPUT_FORMATS } from '../export/format-records.js';

export const RunIdParamsSchema = Type.Object({ id: Type.String({ pattern: '^run_[a-z0-9]+$' }) });
export type RunIdParams = Static<typeof RunIdParamsSchema>;

export const ExportQuerySchema = Type.Object({
  kind: Type.Union([Type.Literal('documents'), Type.Literal('chats'), Type.Literal('rejected')], { default: 'documents' }),
  format: Type.Union(OUTPUT_FORMATS.map((f) => Type.Literal(f)), { default: 'raw' }),
});
export type ExportQuery = Static<typeof ExportQuerySchema>;

export const ListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  offset: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0 }),
});
export type ListQuery = Static<typeof ListQuerySchema>;

export const SubmitQuerySchema = Type.Object({
  /** Validate and estimate the run's tasks and cost without creating it. */
  dryRun: Type.Optional(Type.Boolean({ default: false })),
});
export type SubmitQuery = Static<typeof SubmitQuerySchema>;

export const SubmittedSchema = Type.Object({ id: Type.String(), state: Type.String(), created: Type.Boolean() });
export const ErrorSchema = Type.Object({ error: Type.String(), problems: Type.Optional(Type.Array(Type.String())) });
