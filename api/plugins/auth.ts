import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/** The run page's HTML, scripts and styles: they hold no data (the page asks /v1 for it, with a token). */
const OPEN_TREES = ['/ui'];

const isOpen = (path: string) => OPEN_PATHS.has(path) || OPEN_TREES.some((root) => path === root || path.startsWith(`${root}/`));

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** With `SDF_API_TOKEN` set, every route but health, metrics and the run page's files needs `Authorization: Bearer <token>`. */
export const authPlugin = fp(
  async (app) => {
    const token = app.farm.apiToken;
    if (!token) return;
    app.addHook('onRequest', async (request, reply) => {
      if (isOpen(request.url.split('?')[0] ?? '')) return;
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!given || !sameToken(given, token)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token (Authorization: Bearer <SDF_API_TOKEN>)' });
      }
    });
  },
  { name: 'auth', dependencies: ['farm-services'] },
);
