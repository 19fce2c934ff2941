import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ConflictError, NotFoundError, SpecError } from '../core/errors.js';
import { authPlugin } from './plugins/auth.js';
import { farmServicesPlugin, type FarmServices } from './plugins/farm-services.js';
import { exportRoutes } from './routes/export.js';
import { healthRoutes } from './routes/health.js';
import { runsRoutes } from './routes/runs.js';
import { patternsRoutes } from './routes/patterns.js';
import { evalsRoutes } from './routes/evals.js';

/**
 * The whole HTTP edge as one Fastify app: validate, enqueue, report, export. It never calls a
 * model. Errors below 500 return their message; above, they are logged and answered generically.
 */
export async function buildApp(services: FarmServices, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 10 * 1024 * 1024, ...options });
  // Set before the routes are registered: Fastify children take the handler in force when created.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof SpecError) return reply.code(400).send({ error: `invalid ${error.subject}`, problems: error.problems });
    if (error instanceof NotFoundError) return reply.code(404).send({ error: error.message });
    if (error instanceof ConflictError) return reply.code(409).send({ error: error.message });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: (error as Error).message });
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url}` }));
  await app.register(farmServicesPlugin, { services });
  await app.register(authPlugin);
  await app.register(healthRoutes);
  await app.register(runsRoutes);
  await app.register(exportRoutes);
  await app.register(patternsRoutes);
  await app.register(evalsRoutes);

  return app;
}
