import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';

/** Liveness, readiness (Redis answers) and Prometheus metrics. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness',
        description: 'Answers while the process serves HTTP; it reads nothing else.',
        tags: ['health'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive.', examples: [{ status: 'ok' }] }) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness',
        description: 'Ready when Redis answers a PING; a load balancer should send no traffic otherwise.',
        tags: ['health'],
        response: {
          200: Type.Object({ status: Type.Literal('ready') }, { description: 'Redis answers.', examples: [{ status: 'ready' }] }),
          503: Type.Object({ status: Type.Literal('redis unreachable') }, { description: 'Redis does not answer.', examples: [{ status: 'redis unreachable' }] }),
        },
      },
    },
    async (_request, reply) => {
      const ok = await app.farm.redis.ping().then((r) => r === 'PONG', () => false);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'redis unreachable' });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        description: "The farm's metrics in the Prometheus text format (queue depths, calls, tokens, cost, rejections…; see dashboards/).",
        tags: ['health'],
        response: {
          200: {
            description: 'Metrics in the Prometheus text exposition format (version 0.0.4).',
            content: { 'text/plain': { schema: Type.String({ examples: ['# HELP sdf_response_cache_hits_total Model answers given by the response cache instead of a call (no quota, no cost), by model.\n# TYPE sdf_response_cache_hits_total counter\nsdf_response_cache_hits_total{model="gemini-2.5-flash"} 42\n'] }) } },
          },
        },
      },
    },
    async (_request, reply) => {
      const registry = app.farm.metrics.registry;
      return reply.header('content-type', registry.contentType).send(await registry.metrics());
    },
  );
};
