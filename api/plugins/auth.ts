import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import { DOCS_PREFIX } from './openapi.js';

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Health, metrics and the API docs (the UI, its static files and the OpenAPI document). Judged by
 * the route that matched, not the raw URL, so no spelling of a path reaches another route open.
 */
function isOpen(route: string | undefined): boolean {
  if (route === undefined) return false;
  return OPEN_PATHS.has(route) || route === DOCS_PREFIX || route.startsWith(`${DOCS_PREFIX}/`);
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** With `SDF_API_TOKEN` set, every route but health, metrics and docs needs `Authorization: Bearer <token>`. */
export const authPlugin = fp(
  async (app) => {
    const token = app.farm.apiToken;
    if (!token) return;
    app.addHook('onRequest', async (request, reply) => {
      if (isOpen(request.routeOptions.url)) return;
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!given || !sameToken(given, token)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token (Authorization: Bearer <SDF_API_TOKEN>)' });
      }
    });
  },
  { name: 'auth', dependencies: ['farm-services'] },
);
