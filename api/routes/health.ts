import type { FastifyPluginAsync } from 'fastify';

/** Liveness, readiness (Redis answers) and Prometheus metrics. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const ok = await app.farm.redis.ping().then((r) => r === 'PONG', () => false);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'redis unreachable' });
  });

  app.get('/metrics', async (_request, reply) => {
    const registry = app.farm.metrics.registry;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });
};
