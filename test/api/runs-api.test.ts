import { runKeys } from '../../core/keys.js';
import t, { type Test } from 'tap';
import { buildApp } from '../../api/app.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { testRedis } from '../helpers/redis.js';

const VALID = {
  name: 'api-test',
  universe: '- The assistant admits uncertainty.',
  documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 },
};

async function app(t: Test, apiToken?: string) {
  const { redis, prefix } = await testRedis(t, 'api');
  const queues = createStageQueues(redis, prefix);
  const runs = new RunStore(redis, prefix);
  const instance = await buildApp({ redis, prefix, runs, queues, dataDir: '/nonexistent', taskAttempts: 3, leaseTtlMs: 1000, metrics: createFarmMetrics({ defaultMetrics: false }), apiToken });
  t.teardown(async () => {
    await instance.close();
    await closeQueues(Object.values(queues));
  });
  return { instance, runs, redis, prefix };
}

t.test('a bad spec is answered 400 with every problem by path', async (t) => {
  const { instance } = await app(t);
  const res = await instance.inject({
    method: 'POST',
    url: '/v1/runs',
    payload: { universe: '', documents: { docTypesPerFact: 0, ideasPerType: 'many', docsPerIdea: 1, extra: true }, stages: { nope: {} } },
  });
  t.equal(res.statusCode, 400);
  const body = res.json() as { problems: string[] };
  t.same(
    new Set(body.problems),
    new Set([
      'universe: must NOT have fewer than 1 characters',
      'documents.docTypesPerFact: must be >= 1',
      'documents.ideasPerType: must be integer',
      'documents.extra: is not a known field',
      'stages.nope: is not a known field',
    ]),
  );
});

t.test('a spec asking for nothing is refused', async (t) => {
  const { instance } = await app(t);
  const res = await instance.inject({ method: 'POST', url: '/v1/runs', payload: { universe: 'x' } });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { problems: ['(spec): must ask for documents, chats, or both'] });
});

t.test('YAML bodies are accepted, and YAML syntax errors are 400', async (t) => {
  const { instance, runs } = await app(t);
  const yaml = 'name: y\nuniverse: |\n  - trait one\nchats:\n  promptsPerTrait: 2\n';
  const res = await instance.inject({ method: 'POST', url: '/v1/runs', headers: { 'content-type': 'application/yaml' }, payload: yaml });
  t.equal(res.statusCode, 202);
  const { id } = res.json() as { id: string };
  const run = await runs.get(id);
  t.equal(run.state, 'queued');
  t.same(run.spec.chats, { promptsPerTrait: 2 });

  const bad = await instance.inject({ method: 'POST', url: '/v1/runs', headers: { 'content-type': 'text/yaml' }, payload: 'universe: [unclosed' });
  t.equal(bad.statusCode, 400);
  t.match((bad.json() as { problems: string[] }).problems[0], /not valid YAML/);
});

t.test('?dryRun=true estimates the run and writes nothing to Redis, whatever the Idempotency-Key', async (t) => {
  const { instance, redis, prefix } = await app(t);
  const res = await instance.inject({ method: 'POST', url: '/v1/runs?dryRun=true', headers: { 'idempotency-key': 'k1' }, payload: VALID });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { dryRun: true, stages: { documents: { tasks: 12, model: 'gemini-2.5-flash' } }, unpricedModels: [] });
  // BullMQ's queue meta (written when the queues are created) and the API's request-rate counters are not the run's.
  const written = (await redis.keys(`${prefix}:*`)).filter((key) => !/:meta$|:api-rate:/.test(key));
  t.same(written, [], 'no key was written');
  const real = await instance.inject({ method: 'POST', url: '/v1/runs', headers: { 'idempotency-key': 'k1' }, payload: VALID });
  t.equal(real.statusCode, 202, 'the key is still free for the real submission');
});

t.test('Idempotency-Key returns the same run for the same body and 409 for another', async (t) => {
  const { instance } = await app(t);
  const headers = { 'idempotency-key': 'key-1' };
  const first = await instance.inject({ method: 'POST', url: '/v1/runs', headers, payload: VALID });
  const again = await instance.inject({ method: 'POST', url: '/v1/runs', headers, payload: VALID });
  t.equal(first.statusCode, 202);
  t.equal(again.statusCode, 202);
  t.equal(again.json().id, first.json().id);
  t.equal(again.json().created, false);
  const other = await instance.inject({ method: 'POST', url: '/v1/runs', headers, payload: { ...VALID, name: 'other' } });
  t.equal(other.statusCode, 409);
});

t.test('status, list, cancel and unknown runs', async (t) => {
  const { instance } = await app(t);
  const { id } = (await instance.inject({ method: 'POST', url: '/v1/runs', payload: VALID })).json() as { id: string };
  const status = await instance.inject({ method: 'GET', url: `/v1/runs/${id}` });
  t.equal(status.statusCode, 200);
  t.match(status.json(), { id, name: 'api-test', state: 'queued', tokens: { prompt: 0, output: 0 } });
  const list = await instance.inject({ method: 'GET', url: '/v1/runs' });
  t.equal((list.json() as { runs: { id: string }[] }).runs[0]?.id, id);
  const cancel = await instance.inject({ method: 'POST', url: `/v1/runs/${id}/cancel` });
  t.match(cancel.json(), { id, state: 'cancelled', cancelled: true });
  t.equal((await instance.inject({ method: 'GET', url: `/v1/runs/${id}` })).json().state, 'cancelled');
  t.equal((await instance.inject({ method: 'GET', url: '/v1/runs/run_doesnotexist' })).statusCode, 404);
  t.equal((await instance.inject({ method: 'GET', url: '/v1/runs/bad id' })).statusCode, 400);
});

t.test('export refuses a format that does not fit the kind', async (t) => {
  const { instance } = await app(t);
  const { id } = (await instance.inject({ method: 'POST', url: '/v1/runs', payload: VALID })).json() as { id: string };
  const res = await instance.inject({ method: 'GET', url: `/v1/runs/${id}/export?kind=documents&format=messages` });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { error: 'format: messages applies to kind=chats' });
  // Nothing committed yet: an empty export is the truth.
  const empty = await instance.inject({ method: 'GET', url: `/v1/runs/${id}/export?kind=documents` });
  t.equal(empty.statusCode, 200);
  t.equal(empty.body, '');
});

t.test('an export whose committed file is missing is an error naming the file, not an empty 200', async (t) => {
  const { instance, redis, prefix } = await app(t);
  const { id } = (await instance.inject({ method: 'POST', url: '/v1/runs', payload: VALID })).json() as { id: string };
  await redis.hset(runKeys(prefix, id).offsets, 'documents', 1234);
  const res = await instance.inject({ method: 'GET', url: `/v1/runs/${id}/export?kind=documents` });
  t.equal(res.statusCode, 409);
  t.match(res.json().error, /documents\.jsonl of run .* is missing but 1234 B were committed/);
});

t.test('with SDF_API_TOKEN set, /v1 needs the bearer token; health and metrics stay open', async (t) => {
  const { instance } = await app(t, 's3cret');
  t.equal((await instance.inject({ method: 'GET', url: '/v1/runs' })).statusCode, 401);
  t.equal((await instance.inject({ method: 'GET', url: '/v1/runs', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
  t.equal((await instance.inject({ method: 'GET', url: '/v1/runs', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200);
  t.equal((await instance.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  t.equal((await instance.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  const metrics = await instance.inject({ method: 'GET', url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.body, /sdf_tasks_completed_total/);
});
