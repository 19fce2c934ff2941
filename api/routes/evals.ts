import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { SpecError } from '../../core/errors.js';
import { resolveEvalSpec } from '../../core/evals/eval-spec.js';
import { readEvalStatus } from '../../core/evals/eval-status.js';
import { EvalStore } from '../../core/evals/eval-store.js';
import { parseSpecDocument } from '../../core/spec/parse-run-spec.js';
import { ErrorSchema, ListQuerySchema, type ListQuery } from '../schemas/run-schemas.js';
import { EvalIdParamsSchema, EvalStatusSchema, EvalSubmittedSchema, type EvalIdParams } from '../schemas/eval-schemas.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
const tags = ['evals'];
/** OpenAPI's `summary` and `tags` beside the validation schemas (typed by @fastify/swagger where it is registered). */
const documented = (schema: FastifySchema & { summary: string; tags: string[] }): FastifySchema => schema;

/** Trait evaluations: submit, read (state, progress, report), list, cancel. The work is the eval owner's and the workers'. */
export const evalsRoutes: FastifyPluginAsync = async (app) => {
  // YAML bodies: parsed here unless the app already parses them (a farm-wide body parser plugin).
  if (!app.hasContentTypeParser('application/yaml')) {
    app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseSpecDocument(body as string, 'eval spec'));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  }
  const store = new EvalStore(app.farm.redis, app.farm.prefix);

  app.post('/v1/evals', { schema: documented({ summary: 'Submit a trait evaluation', tags, response: { 202: EvalSubmittedSchema, 400: ErrorSchema } }) }, async (request, reply) => {
    const spec = resolveEvalSpec(request.body);
    if (spec.runId && !(await app.farm.runs.summary(spec.runId))) throw new SpecError([`runId: no run ${spec.runId}`], 'eval spec');
    const record = await store.create(spec);
    return reply.code(202).send({ id: record.id, state: record.state });
  });

  app.get<{ Querystring: ListQuery }>('/v1/evals', { schema: documented({ summary: 'List evaluations, newest first', tags, querystring: ListQuerySchema }) }, async (request) => {
    const evals = [];
    for (const id of await store.list(request.query.limit, request.query.offset)) {
      const record = await store.find(id);
      if (record) evals.push(await readEvalStatus(store, { ...record, report: undefined }));
    }
    return { evals };
  });

  app.get<{ Params: EvalIdParams }>('/v1/evals/:id', { schema: documented({ summary: 'An evaluation: state, progress, and the report once completed', tags, params: EvalIdParamsSchema, response: { 200: EvalStatusSchema, 404: ErrorSchema } }) }, async (request) => {
    return readEvalStatus(store, await store.get(request.params.id));
  });

  app.post<{ Params: EvalIdParams }>('/v1/evals/:id/cancel', { schema: documented({ summary: 'Cancel an evaluation', tags, params: EvalIdParamsSchema, response: { 404: ErrorSchema } }) }, async (request) => {
    const record = await store.get(request.params.id);
    const cancelled = await store.transition(record.id, ['queued', 'running'], 'cancelled');
    return { id: record.id, state: cancelled ? 'cancelled' : record.state, cancelled };
  });
};
