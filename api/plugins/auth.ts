import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleGrants } from '../../core/auth/api-roles.js';
import { ApiTokens } from '../../core/auth/api-tokens.js';
import { QUEUES_PATH, requiredRole } from './route-roles.js';

const BASIC_CHALLENGE = 'Basic realm="sdf-farm queues", charset="UTF-8"';

const underQueues = (path: string) => path === QUEUES_PATH || path.startsWith(`${QUEUES_PATH}/`);

/**
 * The token a request presents: `Authorization: Bearer <token>`, or, for the queue board only,
 * HTTP Basic with the token as password (a browser cannot send a Bearer header when it
 * navigates, but it asks for Basic credentials itself). Never a query parameter: URLs are logged.
 */
function presentedToken(request: FastifyRequest, path: string): string | undefined {
  const header = request.headers.authorization ?? '';
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value || undefined;
  if (scheme === 'basic' && underQueues(path)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

function unauthorized(reply: FastifyReply, path: string, error: string) {
  const challenges = underQueues(path) ? [BASIC_CHALLENGE, 'Bearer'] : 'Bearer';
  return reply.code(401).header('www-authenticate', challenges).send({ error });
}

/**
 * Tokens and roles (see core/auth): with SDF_API_TOKEN or SDF_API_TOKENS_FILE set, every route
 * but the open ones needs a token whose role covers it (route-roles.ts): 401 for no or an
 * unknown token, 403 for a known one whose role is too weak. Without either, the API is open;
 * it then only listens on loopback (core/auth/loopback.ts).
 */
export const authPlugin = fp(
  async (app) => {
    const tokens = app.farm.apiTokens ?? new ApiTokens({ envToken: app.farm.apiToken });
    if (!tokens.enabled) return;
    app.addHook('onRequest', async (request, reply) => {
      // The matched route's pattern, not the raw URL: what runs is what is checked.
      const path = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
      const needed = requiredRole(request.method, path);
      if (needed === 'open') return;
      const token = presentedToken(request, path);
      if (!token) return unauthorized(reply, path, 'missing bearer token (Authorization: Bearer <token>)');
      const holder = tokens.identify(token);
      if (!holder) return unauthorized(reply, path, 'unknown token');
      // Who did it, by the token's name, on this request's log lines (its completion included).
      request.log = reply.log = request.log.child({ caller: holder.name });
      if (!roleGrants(holder.role, needed)) {
        return reply.code(403).send({ error: `token "${holder.name}" has role ${holder.role}; ${request.method} ${path} needs ${needed}` });
      }
    });
  },
  { name: 'auth', dependencies: ['farm-services'] },
);
