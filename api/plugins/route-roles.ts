import type { ApiRole } from '../../core/auth/api-roles.js';

/** Paths anyone may read: probes, metrics, the run page's static files and the API docs. */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const OPEN_TREES = ['/ui', '/docs'];

/** The bull-board UI and its API. */
export const QUEUES_PATH = '/queues';

const under = (path: string, root: string) => path === root || path.startsWith(`${root}/`);

/**
 * The role a request needs, from its method and path alone, so a route added later is covered
 * without declaring anything: under /v1, GET (and HEAD) need `read`, DELETE needs `admin`, any
 * other method (POST, PATCH, PUT) `submit`. /queues needs `admin`; anything unknown too.
 */
export function requiredRole(method: string, path: string): ApiRole | 'open' {
  if (OPEN_PATHS.has(path) || OPEN_TREES.some((root) => under(path, root))) return 'open';
  if (under(path, '/v1')) {
    if (method === 'GET' || method === 'HEAD') return 'read';
    if (method === 'DELETE') return 'admin';
    return 'submit';
  }
  return 'admin';
}
