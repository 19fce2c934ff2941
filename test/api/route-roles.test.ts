import t from 'tap';
import { requiredRole } from '../../api/plugins/route-roles.js';

/** The shared contract's role table, including routes other parts of the farm add (evals, /ui, /docs). */
t.test('the role each route needs, from its method and matched pattern', async (t) => {
  const table: [string, string, ReturnType<typeof requiredRole>][] = [
    ['GET', '/healthz', 'open'],
    ['GET', '/readyz', 'open'],
    ['GET', '/metrics', 'open'],
    ['GET', '/ui', 'open'],
    ['GET', '/ui/*', 'open'],
    ['GET', '/docs', 'open'],
    ['GET', '/docs/json', 'open'],
    ['GET', '/docs/static/*', 'open'],
    ['GET', '/v1/runs', 'read'],
    ['HEAD', '/v1/runs/:id', 'read'],
    ['GET', '/v1/runs/:id/export', 'read'],
    ['GET', '/v1/runs/:id/samples', 'read'],
    ['GET', '/v1/evals/:id', 'read'],
    ['POST', '/v1/runs', 'submit'],
    ['PATCH', '/v1/runs/:id', 'submit'],
    ['POST', '/v1/runs/:id/cancel', 'submit'],
    ['POST', '/v1/runs/:id/retry-failed', 'submit'],
    ['POST', '/v1/evals', 'submit'],
    ['POST', '/v1/evals/:id/cancel', 'submit'],
    ['DELETE', '/v1/runs/:id', 'admin'],
    ['GET', '/queues', 'admin'],
    ['GET', '/queues/api/queues', 'admin'],
    ['GET', '/queues/static/*', 'admin'],
    ['GET', '/v1x', 'admin'],
    ['GET', '/uix/secret', 'admin'],
    ['GET', '/metrics/extra', 'admin'],
    ['GET', '/anything-else', 'admin'],
  ];
  for (const [method, path, role] of table) t.equal(requiredRole(method, path), role, `${method} ${path}`);
});
