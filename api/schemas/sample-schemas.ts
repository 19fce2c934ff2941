import { Type, type Static } from '@sinclair/typebox';
import { STAGES } from '../../core/stages.js';

const KINDS = ['documents', 'chats', 'rejected'] as const;

export const SamplesQuerySchema = Type.Object({
  kind: Type.Union(
    KINDS.map((k) => Type.Literal(k)),
    { default: 'documents', description: 'documents and chats: accepted records; rejected: rejections, each with its reason, rule and matched span' },
  ),
  offset: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0, description: 'Samples to skip (after the filters)' }),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'kind=rejected only: rejections with this reason (e.g. placeholder, audit-pattern)' })),
  stage: Type.Optional(Type.Union(STAGES.map((s) => Type.Literal(s)), { description: 'kind=rejected only: rejections of this stage' })),
});
export type SamplesQuery = Static<typeof SamplesQuerySchema>;

/** One stored record as written to its run file (documents.jsonl, chats.jsonl or rejected.jsonl). */
const SampleSchema = Type.Record(Type.String(), Type.Unknown(), {
  description: 'documents: {id, kind, text, fact, docType, idea…}; chats: {id, kind, messages, trait…}; rejected: {id, stage, reason, rule?, span?, detail?, text?…}',
});

export const SamplesPageSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union(KINDS.map((k) => Type.Literal(k))),
  offset: Type.Integer(),
  limit: Type.Integer(),
  samples: Type.Array(SampleSchema),
  /** Where the next page starts; null on the last page. */
  nextOffset: Type.Union([Type.Integer(), Type.Null()], { description: 'Offset of the next page; null when this page is the last' }),
});
export type SamplesPage = Static<typeof SamplesPageSchema>;
