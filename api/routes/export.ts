import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { formatProblem, formatRecord, type OutputFormat, type OutputKind } from '../export/format-records.js';
import { assertOutputIntact, readRunOutputState, runRecords, type RunOutputState } from '../export/run-records.js';
import { ExportQuerySchema, RunIdParamsSchema, type ExportQuery, type RunIdParams } from '../schemas/run-schemas.js';

async function* exportLines(dataDir: string, runId: string, kind: OutputKind, state: RunOutputState, format: OutputFormat): AsyncGenerator<string> {
  for await (const record of runRecords(dataDir, runId, kind, state)) yield JSON.stringify(formatRecord(record, format)) + '\n';
}

/** Streams a run's committed output as NDJSON, in the requested training format. */
export const exportRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: RunIdParams; Querystring: ExportQuery }>(
    '/v1/runs/:id/export',
    { schema: { params: RunIdParamsSchema, querystring: ExportQuerySchema } },
    async (request, reply) => {
      const run = await app.farm.runs.get(request.params.id);
      const { kind, format } = request.query;
      const problem = formatProblem(kind, format);
      if (problem) return reply.code(400).send({ error: problem });
      const state = await readRunOutputState(app.farm.redis, app.farm.prefix, run.id);
      await assertOutputIntact(app.farm.dataDir, run.id, kind, state);
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${run.id}-${kind}-${format}.jsonl"`)
        .send(Readable.from(exportLines(app.farm.dataDir, run.id, kind, state, format)));
    },
  );
};
