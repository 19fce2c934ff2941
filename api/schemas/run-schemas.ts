import { Type, type Static } from '@sinclair/typebox';
import { OUTPUT_FORMATS } from '../export/format-records.js';
import { EXAMPLE_RUN_ID } from './api-examples.js';

export const RunIdParamsSchema = Type.Object({ id: Type.String({ pattern: '^run_[a-z0-9]+$', description: 'The run id POST /v1/runs answered.', examples: [EXAMPLE_RUN_ID] }) });
export type RunIdParams = Static<typeof RunIdParamsSchema>;

/** One of a few strings, as `enum`: one clear error (`must be equal to one of the allowed values`) and a picker in the UI. */
function StringEnum<const T extends string>(values: readonly T[], options: { default: NoInfer<T>; description: string; examples: NoInfer<T>[] }) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

export const ExportQuerySchema = Type.Object({
  kind: Type.Optional(
    StringEnum(['documents', 'chats', 'rejected'] as const, {
      default: 'documents',
      description: 'Which records: accepted documents, accepted chats, or rejections (with the rule that rejected each).',
      examples: ['chats'],
    }),
  ),
  format: Type.Optional(
    StringEnum(OUTPUT_FORMATS, {
      default: 'raw',
      description: 'raw: the records as stored; text: `{text}` lines; messages: chat `{messages}` (OpenAI style); gemini: `{contents}` for Gemini tuning.',
      examples: ['messages'],
    }),
  ),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'Skip this many records of the export (what an interrupted download already holds), so it can resume.', examples: [0] })),
});
/** Optional in the query, always there in the handler: Fastify fills in the defaults. */
export type ExportQuery = Required<Static<typeof ExportQuerySchema>>;

export const ListQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'Most runs to list.', examples: [20] })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0, description: 'Runs to skip, newest first.', examples: [0] })),
});
export type ListQuery = Required<Static<typeof ListQuerySchema>>;

export const SubmitQuerySchema = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ default: false, description: "Validate and estimate the run's tasks and cost (200) without creating it.", examples: [true] })),
});
export type SubmitQuery = Static<typeof SubmitQuerySchema>;

export const SubmitHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ description: 'The same key with the same body returns the same run (202, `created: false`); with another body, 409. Kept 7 days.', examples: ['nightly-2026-12-02'] }),
  ),
});

/** Every 4xx and 5xx answer. */
export const ErrorSchema = Type.Object({
  error: Type.String({ description: 'What went wrong, naming the field.' }),
  problems: Type.Optional(Type.Array(Type.String(), { description: 'Every problem of an invalid spec or change, one `path: message` each.' })),
});
