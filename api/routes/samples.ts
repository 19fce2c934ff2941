import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { assertOutputIntact, readRunOutputState, runRecords } from '../export/run-records.js';
import { RunIdParamsSchema, type RunIdParams } from '../schemas/run-schemas.js';
import { AUTH_ERRORS, V1_SECURITY, errorResponses } from '../schemas/error-responses.js';
import { SamplesPageSchema, SamplesQuerySchema, type SamplesPage, type SamplesQuery } from '../schemas/sample-schemas.js';

// A constant, not a literal in the call: summary and tags are typed by @fastify/swagger's FastifySchema augmentation.
const SAMPLES_ROUTE_SCHEMA = {
  summary: 'Page through accepted or rejected samples of a run',
  description: 'Accepted documents or chats, or rejections with their reason, rule and matched span; rejected can be narrowed by reason and stage.',
  tags: ['runs'],
  security: V1_SECURITY,
  params: RunIdParamsSchema,
  querystring: SamplesQuerySchema,
  response: {
    200: Type.Composite([SamplesPageSchema], { description: 'One page of samples, and where the next starts.' }),
    ...errorResponses({ 400: {}, ...AUTH_ERRORS, 404: {}, 409: { description: 'A committed run file is missing or short: its data was lost.', example: { error: 'documents.jsonl of run run_0m4g7x2a1b2c3d4e5f is missing but 5120 B were committed' } }, 429: {} }),
  },
};

/**
 * Pages through a run's committed samples (the run page's sample browser). The records are the
 * export's raw records, in file order; paging reads from the start of the file, so a deep page
 * costs a scan up to it (fine for browsing; the export is for reading everything).
 */
export const samplesRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: RunIdParams; Querystring: SamplesQuery }>(
    '/v1/runs/:id/samples',
    { schema: SAMPLES_ROUTE_SCHEMA },
    async (request, reply): Promise<SamplesPage> => {
      const run = await app.farm.runs.getSummary(request.params.id);
      const { kind, offset, limit, reason, stage } = request.query;
      if (kind !== 'rejected' && (reason !== undefined || stage !== undefined)) {
        return reply.code(400).send({ error: `${reason !== undefined ? 'reason' : 'stage'}: filters kind=rejected only (got kind=${kind})` });
      }
      const state = await readRunOutputState(app.farm.redis, app.farm.prefix, run.id);
      await assertOutputIntact(app.farm.dataDir, run.id, kind, state);
      const samples: Record<string, unknown>[] = [];
      let skipped = 0;
      let more = false;
      for await (const record of runRecords(app.farm.dataDir, run.id, kind, state)) {
        if (reason !== undefined && record.reason !== reason) continue;
        if (stage !== undefined && record.stage !== stage) continue;
        if (skipped < offset) {
          skipped++;
          continue;
        }
        // One record past the page says whether there is a next one.
        if (samples.length === limit) {
          more = true;
          break;
        }
        samples.push(record);
      }
      return { id: run.id, kind, offset, limit, samples, nextOffset: more ? offset + samples.length : null };
    },
  );
};
