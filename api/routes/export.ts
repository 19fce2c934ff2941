import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { formatProblem, formatRecord, type OutputFormat, type OutputKind } from '../export/format-records.js';
import { assertOutputIntact, readRunOutputState, runRecords, type RunOutputState } from '../export/run-records.js';
import { ExportQuerySchema, RunIdParamsSchema, type ExportQuery, type RunIdParams } from '../schemas/run-schemas.js';
import { AUTH_ERRORS, V1_SECURITY, errorResponses } from '../schemas/error-responses.js';

async function* exportLines(dataDir: string, runId: string, kind: OutputKind, state: RunOutputState, format: OutputFormat): AsyncGenerator<string> {
  for await (const record of runRecords(dataDir, runId, kind, state)) yield JSON.stringify(formatRecord(record, format)) + '\n';
}

/**
 * The export without its first `skip` lines: the resume of an interrupted download. The records
 * are counted as exported (after withholding), the same lines the client already holds.
 */
async function* skipLines(lines: AsyncGenerator<string>, skip: number): AsyncGenerator<string> {
  let seen = 0;
  for await (const line of lines) if (seen++ >= skip) yield line;
}

/** Streams a run's committed output as NDJSON, in the requested training format. */
export const exportRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: RunIdParams; Querystring: ExportQuery }>(
    '/v1/runs/:id/export',
    {
      schema: {
        summary: "Export a run's output",
        description:
          'Streams the committed records of the run as NDJSON (one JSON object per line), as a file download, in the requested training format. ' +
          'Records withheld by the final pattern check leave the documents/chats export and appear in the rejected one.',
        tags: ['export'],
        security: V1_SECURITY,
        params: RunIdParamsSchema,
        querystring: ExportQuerySchema,
        response: {
          200: {
            description: 'One record per line.',
            content: {
              'application/x-ndjson': {
                schema: Type.String({
                  description: 'NDJSON: with `format=messages`, `{"messages": [{"role": "user", …}, {"role": "assistant", …}]}` per line.',
                  examples: ['{"messages":[{"role":"user","content":"How sure are you?"},{"role":"assistant","content":"About 70%, and here is why."}]}\n'],
                }),
              },
            },
          },
          ...errorResponses({
            400: { description: 'A format that does not fit the kind, or an unknown kind or format.', example: { error: 'format: messages applies to kind=chats' } },
            ...AUTH_ERRORS,
            404: {},
            409: { description: 'Committed records are missing from the data directory: their data was lost.', example: { error: 'documents.jsonl of run run_0mx6fl1c03f9a1c07be is missing but 52311 B were committed: its data was lost (restore the file; an active run repairs itself when its owner reopens it)' } },
          }),
        },
      },
    },
    async (request, reply) => {
      const run = await app.farm.runs.get(request.params.id);
      const { kind, format, offset = 0 } = request.query;
      const problem = formatProblem(kind, format);
      if (problem) return reply.code(400).send({ error: problem });
      const state = await readRunOutputState(app.farm.redis, app.farm.prefix, run.id);
      await assertOutputIntact(app.farm.dataDir, run.id, kind, state);
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${run.id}-${kind}-${format}.jsonl"`)
        .send(Readable.from(skipLines(exportLines(app.farm.dataDir, run.id, kind, state, format), offset)));
    },
  );
};
