import { request as httpRequest, Agent } from 'node:http';
import t from 'tap';
import { buildApp } from '../../api/app.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { hostileRequests, VALID_SPEC, type HostileRequest, type QueryParam } from '../helpers/hostile-requests.js';
import { testRedis } from '../helpers/redis.js';
import { routeTable } from '../helpers/route-table.js';

const TOKEN = 'fuzz-admin-token-0123456789';

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

function send(agent: Agent, port: number, req: HostileRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body) headers['content-length'] = req.body.length;
    const r = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A server that answers before reading a large body may close the socket under the write.
    r.on('error', reject);
    // A request the server never answers is a failure named in the report, not a hung test.
    r.setTimeout(30_000, () => r.destroy(new Error('no answer within 30 s')));
    r.end(req.body);
  });
}

/** Declared query parameters per route, read from the route schemas the app serves as OpenAPI. */
async function declaredQueries(app: Awaited<ReturnType<typeof buildApp>>): Promise<Record<string, QueryParam[]>> {
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  if (res.statusCode === 200) {
    const doc = res.json() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema: QueryParam & { type: string } }[] }>> };
    const out: Record<string, QueryParam[]> = {};
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const params = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ ...p.schema, name: p.name }));
        out[`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`] = params;
      }
    }
    return out;
  }
  // Before the OpenAPI document existed: the query schemas of api/schemas/run-schemas.ts.
  return {
    'GET /v1/runs': [{ name: 'limit', type: 'integer', minimum: 1, maximum: 1000 }, { name: 'offset', type: 'integer', minimum: 0 }],
    'POST /v1/runs': [{ name: 'dryRun', type: 'boolean' }],
    'GET /v1/runs/:id/export': [{ name: 'kind', type: 'string', enum: ['documents', 'chats', 'rejected'] }, { name: 'format', type: 'string', enum: ['raw'] }],
  };
}

t.test('a thousand and more hostile requests: each a 4xx JSON error naming the problem, none a 5xx, and the server keeps serving', async (t) => {
  const { redis, prefix } = await testRedis(t, 'fuzz');
  const queues = createStageQueues(redis, prefix);
  const runs = new RunStore(redis, prefix);
  const app = await buildApp(
    { redis, prefix, runs, queues, dataDir: t.testdir(), taskAttempts: 3, leaseTtlMs: 1000, metrics: createFarmMetrics({ defaultMetrics: false }), apiToken: TOKEN },
    { logger: false },
  );
  t.teardown(async () => {
    await app.close();
    await closeQueues(Object.values(queues));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());

  const submitted = await app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${TOKEN}` }, payload: VALID_SPEC });
  t.equal(submitted.statusCode, 202, 'the fuzz base spec itself is valid');
  const runId = (submitted.json() as { id: string }).id;

  const routes = routeTable(app);
  t.ok(routes.length >= 10, `walks every route (${routes.length})`);
  const openPaths = (url: string) => /^\/(healthz|readyz|metrics|docs|ui)(\/|$)/.test(url);
  const bodyRoutes = new Set(['POST /v1/runs', 'PATCH /v1/runs/:id', 'POST /v1/evals']);
  const requests = hostileRequests({ routes, token: TOKEN, runId, queryParams: await declaredQueries(app), openPaths, bodyRoutes });
  t.ok(requests.length >= 1000, `${requests.length} requests generated`);

  const byStatus = new Map<number, number>();
  const byRoute = new Map<string, number>();
  const failures: string[] = [];
  const health = { method: 'GET', path: '/healthz', headers: {}, category: 'health' };
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const req = requests[next++]!;
      const where = `${req.category}: ${req.method} ${req.path.slice(0, 80)}`;
      let answer: Answer;
      try {
        answer = await send(agent, port, req);
      } catch (err) {
        // Refusing a body by closing the connection is allowed only for bodies past the limit.
        if (req.category.includes('oversized')) {
          byStatus.set(-1, (byStatus.get(-1) ?? 0) + 1);
          continue;
        }
        failures.push(`${where}: no answer (${(err as Error).message})`);
        continue;
      }
      byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
      const routeKey = req.path.split('?')[0]!.replace(/run_[a-z0-9]+/, ':id');
      byRoute.set(`${req.method} ${routeKey}`.slice(0, 60), (byRoute.get(`${req.method} ${routeKey}`.slice(0, 60)) ?? 0) + 1);
      if (answer.status < 400 || answer.status >= 500) {
        failures.push(`${where}: ${answer.status} ${answer.body.slice(0, 200)}`);
        continue;
      }
      let parsed: { error?: unknown };
      try {
        parsed = JSON.parse(answer.body) as { error?: unknown };
      } catch {
        failures.push(`${where}: ${answer.status} is not JSON: ${answer.body.slice(0, 120)}`);
        continue;
      }
      if (typeof parsed.error !== 'string' || parsed.error.length < 5) failures.push(`${where}: ${answer.status} without an error message: ${answer.body.slice(0, 120)}`);
      // Every hundredth request, the server must still answer its health check.
      if (next % 100 === 0) {
        const alive = await send(agent, port, health);
        if (alive.status !== 200) failures.push(`after ${next} requests /healthz answered ${alive.status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));

  const counts = [...byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === -1 ? 'closed' : s}: ${n}`).join(', ');
  t.comment(`${requests.length} hostile requests to ${routes.length} routes; answers by status: ${counts}`);
  t.comment(`distinct categories: ${new Set(requests.map((r) => r.category)).size}`);
  t.same(failures.slice(0, 40), [], `every request got a 4xx JSON error (${failures.length} did not)`);

  // Still serving: health, and a valid submission is accepted.
  t.equal((await send(agent, port, health)).status, 200);
  const again = await send(agent, port, { category: 'valid', method: 'POST', path: '/v1/runs', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ ...VALID_SPEC, name: 'after the fuzz' })) });
  t.equal(again.status, 202, 'a valid spec is still accepted');
});
