import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** With `SDF_API_TOKEN` set, every route but health and metrics needs `Authorization: Bearer <token>`. */
export const authPlugin = fp(
  async (app) => {
    const token = app.farm.apiToken;
    if (!token) return;
    app.addHook('onRequest', async (request, reply) => {
      if (OPEN_PATHS.has(request.url.split('?')[0] ?? '')) return;
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!given || !sameToken(given, token)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token (Authorization: Bearer <SDF_API_TOKEN>)' });
      }
    });
  },
  { name: 'auth', dependencies: ['farm-services'] },
);
