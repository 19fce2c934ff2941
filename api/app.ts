import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ConflictError, LimitError, NotFoundError, SpecError } from '../core/errors.js';
import { OPERATOR_LIMIT_DEFAULTS } from '../core/spec/operator-limits.js';
import { apiRateLimitPlugin } from './plugins/api-rate-limit.js';
import { authPlugin } from './plugins/auth.js';
import { bodyParsersPlugin } from './plugins/body-parsers.js';
import { queuesBoardPlugin } from './plugins/queues-board.js';
import { bodyTooLargeProblem } from './body-too-large.js';
import { farmServicesPlugin, type FarmServices } from './plugins/farm-services.js';
import { openapiPlugin } from './plugins/openapi.js';
import { exportRoutes } from './routes/export.js';
import { healthRoutes } from './routes/health.js';
import { runsRoutes } from './routes/runs.js';
import { patternsRoutes } from './routes/patterns.js';
import { samplesRoutes } from './routes/samples.js';
import { uiRoutes } from './routes/ui.js';
import { evalsRoutes } from './routes/evals.js';

/**
 * The whole HTTP edge as one Fastify app: validate, enqueue, report, export. It never calls a
 * model. Errors below 500 return their message; above, they are logged and answered generically.
 */
export async function buildApp(services: FarmServices, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const maxBodyBytes = services.maxBodyBytes ?? OPERATOR_LIMIT_DEFAULTS.maxBodyBytes;
  const app = Fastify({ bodyLimit: maxBodyBytes, ...options });
  // Set before the routes are registered: Fastify children take the handler in force when created.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof SpecError) return reply.code(400).send({ error: `invalid ${error.subject}`, problems: error.problems });
    if (error instanceof LimitError) return reply.code(422).send({ error: `${error.subject} exceeds the farm's limits`, problems: error.problems });
    const tooLarge = bodyTooLargeProblem(error, request, maxBodyBytes);
    if (tooLarge) return reply.code(422).send({ error: 'request body exceeds the farm\'s limits', problems: [tooLarge] });
    if (error instanceof NotFoundError) return reply.code(404).send({ error: error.message });
    if (error instanceof ConflictError) return reply.code(409).send({ error: error.message });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: (error as Error).message });
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  // Response schemas document the answers (OpenAPI at /docs); they do not shape them. Fastify's
  // default serializer would drop every field a schema does not list and coerce mismatched types,
  // and the run status grows over time. test/api/openapi.test.ts checks real answers against them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url}` }));
  // ajv (8.20) coerces a query value such as "1e309" to Infinity and then skips minimum and
  // maximum, so an out-of-range number would reach Redis. Such numbers are refused here.
  app.addHook('preValidation', async (request) => {
    for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (number === Infinity || number === -Infinity) throw Object.assign(new Error(`querystring/${name} must be a finite number, got "${String(value).slice(0, 40)}"`), { statusCode: 400 });
    }
  });
  await app.register(farmServicesPlugin, { services });
  await app.register(bodyParsersPlugin);
  await app.register(authPlugin);
  // Before the routes: it adds its hook to each route as it is registered, after auth's global one, so refused tokens are not counted.
  await app.register(apiRateLimitPlugin);
  await app.register(openapiPlugin);
  await app.register(healthRoutes);
  await app.register(runsRoutes);
  await app.register(exportRoutes);
  await app.register(patternsRoutes);
  await app.register(samplesRoutes);
  await app.register(uiRoutes);
  await app.register(queuesBoardPlugin);
  await app.register(evalsRoutes);

  return app;
}
