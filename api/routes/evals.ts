import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { LimitError, SpecError } from '../../core/errors.js';
import { resolveEvalSpec } from '../../core/evals/eval-spec.js';
import { readEvalStatus } from '../../core/evals/eval-status.js';
import { EvalStore } from '../../core/evals/eval-store.js';
import { evalLimitProblems } from '../../core/spec/operator-limits.js';
import { Type, type TSchema } from '@sinclair/typebox';
import { ListQuerySchema, type ListQuery } from '../schemas/run-schemas.js';
import { AUTH_ERRORS, V1_SECURITY, errorResponses } from '../schemas/error-responses.js';
import { EvalIdParamsSchema, EvalStatusSchema, EvalSubmittedSchema, type EvalIdParams } from '../schemas/eval-schemas.js';

const tags = ['evals'];
/** OpenAPI's `summary` and `tags` beside the validation schemas (typed by @fastify/swagger where it is registered). */
const documented = (schema: FastifySchema & { summary: string; description: string; tags: string[] }): FastifySchema => ({ security: V1_SECURITY, ...schema });
const described = (schema: TSchema, description: string) => ({ ...schema, description });

/** Trait evaluations: submit, read (state, progress, report), list, cancel. The work is the eval owner's and the workers'. */
export const evalsRoutes: FastifyPluginAsync = async (app) => {
  const store = new EvalStore(app.farm.redis, app.farm.prefix);

  app.post('/v1/evals', { schema: documented({ summary: 'Submit a trait evaluation', description: 'Takes `{name, universe, traits?, keyFacts?, probesPerTrait, models, judge?, runId?}` (JSON or YAML) and answers 202 with the eval id; a bad spec is 400 naming each field.', tags, response: { 202: described(EvalSubmittedSchema, 'The evaluation is queued.'), ...errorResponses({ 400: {}, ...AUTH_ERRORS, 415: {}, 422: {}, 429: {} }) } }) }, async (request, reply) => {
    const spec = resolveEvalSpec(request.body);
    const overLimits = evalLimitProblems({ ...spec, judgeNamed: Boolean((request.body as { judge?: unknown }).judge) }, app.farm.operatorLimits);
    if (overLimits.length > 0) throw new LimitError(overLimits, 'eval spec');
    if (spec.runId && !(await app.farm.runs.summary(spec.runId))) throw new SpecError([`runId: no run ${spec.runId}`], 'eval spec');
    const record = await store.create(spec);
    return reply.code(202).send({ id: record.id, state: record.state });
  });

  app.get<{ Querystring: ListQuery }>('/v1/evals', { schema: documented({ summary: 'List evaluations, newest first', description: 'Each evaluation with its state and progress (reports only from GET /v1/evals/:id).', tags, querystring: ListQuerySchema, response: { 200: Type.Object({ evals: Type.Array(Type.Unsafe<unknown>(EvalStatusSchema)) }, { description: 'The evaluations.' }), ...errorResponses({ 400: {}, ...AUTH_ERRORS, 429: {} }) } }) }, async (request) => {
    const evals = [];
    for (const id of await store.list(request.query.limit, request.query.offset)) {
      const record = await store.find(id);
      if (record) evals.push(await readEvalStatus(store, { ...record, report: undefined }));
    }
    return { evals };
  });

  app.get<{ Params: EvalIdParams }>('/v1/evals/:id', { schema: documented({ summary: 'An evaluation: state, progress, and the report once completed', description: 'state is queued, running, completed, cancelled or failed; `report` (per trait and model: mean, 95% interval as lower/upper, share above the threshold) once completed.', tags, params: EvalIdParamsSchema, response: { 200: described(EvalStatusSchema, 'The evaluation.'), ...errorResponses({ 400: {}, ...AUTH_ERRORS, 404: { description: 'No such evaluation.', example: { error: 'eval eval_0m4g7x2a1b not found' } }, 429: {} }) } }) }, async (request) => {
    return readEvalStatus(store, await store.get(request.params.id));
  });

  app.post<{ Params: EvalIdParams }>('/v1/evals/:id/cancel', { schema: documented({ summary: 'Cancel an evaluation', description: 'A queued or running evaluation becomes cancelled; an ended one is left as it is (`cancelled: false`).', tags, params: EvalIdParamsSchema, response: { 200: Type.Object({ id: Type.String(), state: Type.String(), cancelled: Type.Boolean() }, { description: 'The evaluation after the request.' }), ...errorResponses({ 400: {}, ...AUTH_ERRORS, 404: { description: 'No such evaluation.', example: { error: 'eval eval_0m4g7x2a1b not found' } }, 429: {} }) } }) }, async (request) => {
    const record = await store.get(request.params.id);
    const cancelled = await store.transition(record.id, ['queued', 'running'], 'cancelled');
    return { id: record.id, state: cancelled ? 'cancelled' : record.state, cancelled };
  });
};
