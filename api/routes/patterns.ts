import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CorpusGate } from '../../core/filters/corpus-gate.js';
import { resolveFilterSpec } from '../../core/filters/filter-spec.js';
import { runKeys } from '../../core/keys.js';
import { RunIdParamsSchema, type RunIdParams } from '../schemas/run-schemas.js';
import { PATTERNS_EXAMPLE } from '../schemas/api-examples.js';
import { AUTH_ERRORS, V1_SECURITY, errorResponses } from '../schemas/error-responses.js';
import { PatternsSchema } from '../schemas/run-action-schemas.js';

const schema = {
  summary: "A run's pattern report",
  description: 'The latest LLM pattern audit per kind (patterns, their prevalence, which are active filters) and the most frequent corpus features against their ceilings.',
  tags: ['patterns'],
  security: V1_SECURITY,
  params: RunIdParamsSchema,
  response: {
    200: Type.Composite([PatternsSchema], { description: PatternsSchema.description, examples: [PATTERNS_EXAMPLE] }),
    ...errorResponses({ 400: { description: 'The id is not a run id (`run_…`).' }, ...AUTH_ERRORS, 404: {} }),
  },
};

/** A run's pattern report: the latest LLM audit per kind, and the most frequent corpus features. */
export const patternsRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: RunIdParams }>('/v1/runs/:id/patterns', { schema }, async (request) => {
    const { redis, prefix } = app.farm;
    const run = await app.farm.runs.get(request.params.id);
    const spec = resolveFilterSpec(run.spec.filters);
    const keys = runKeys(prefix, run.id);
    const [documents, chats] = await Promise.all([redis.get(keys.patterns('document')), redis.get(keys.patterns('chat'))]);
    const corpus = async (kind: 'document' | 'chat') => {
      const gate = new CorpusGate(redis, keys.corpus(kind), spec, keys.patternCounts(kind));
      // `named`: accepted items carrying each named chat pattern (core/filters/chat-patterns.ts).
      return { accepted: await gate.accepted(), top: await gate.top(30), named: await gate.namedCounts() };
    };
    return {
      id: run.id,
      audit: { documents: documents ? JSON.parse(documents) : null, chats: chats ? JSON.parse(chats) : null },
      ceilings: spec.corpus.maxShare,
      corpus: { documents: await corpus('document'), chats: await corpus('chat') },
    };
  });
};
