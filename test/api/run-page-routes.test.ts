import t, { type Test } from 'tap';
import { buildApp } from '../../api/app.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { runKeys } from '../../core/keys.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { testRedis } from '../helpers/redis.js';

/** The run page's routes without a browser (test/ui/run-page.test.ts drives the page itself). */

const TOKEN = 's3cret';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SPEC = { universe: '- The assistant admits uncertainty.', documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } };

async function app(t: Test) {
  const { redis, prefix } = await testRedis(t, 'ui');
  const queues = createStageQueues(redis, prefix);
  const instance = await buildApp({ redis, prefix, runs: new RunStore(redis, prefix), queues, dataDir: '/nonexistent', taskAttempts: 3, leaseTtlMs: 1000, metrics: createFarmMetrics({ defaultMetrics: false }), apiToken: TOKEN });
  t.teardown(async () => {
    await instance.close();
    await closeQueues(Object.values(queues));
  });
  return { instance, redis, prefix };
}

t.test('the run page and its files are open on a farm with a token; its data is not', async (t) => {
  const { instance } = await app(t);
  for (const url of ['/ui', '/ui/', '/ui/runs/run_abc']) {
    const res = await instance.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
    t.match(res.headers['content-type'], /^text\/html/, url);
    t.match(res.body, /<script type="module" src="\/ui\/static\/js\/main.js"><\/script>/, `${url} is the page`);
    t.match(res.headers['content-security-policy'], /script-src 'self'/);
  }
  for (const [url, type] of [['/ui/static/js/main.js', /^text\/javascript/], ['/ui/static/run-page.css', /^text\/css/]] as const) {
    const res = await instance.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
    t.match(res.headers['content-type'], type);
  }
  t.equal((await instance.inject({ method: 'GET', url: '/ui/static/nope.js' })).statusCode, 404);
  const outside = await instance.inject({ method: 'GET', url: '/ui/static/../../package.json' });
  t.not(outside.statusCode, 200, `only the page's own files (${outside.statusCode})`);
  t.notMatch(outside.body, /"name": "sdf-farm"/);
  t.equal((await instance.inject({ method: 'GET', url: '/v1/runs/run_abc/samples' })).statusCode, 401, 'the samples need the token');
  const through = await instance.inject({ method: 'GET', url: '/ui/../v1/runs' });
  t.not(through.statusCode, 200, `a /ui prefix opens no data route (${through.statusCode})`);
});

t.test('samples of a run whose committed file is missing are a 409 naming the file; an unknown run is a 404', async (t) => {
  const { instance, redis, prefix } = await app(t);
  const { id } = (await instance.inject({ method: 'POST', url: '/v1/runs', headers: AUTH, payload: SPEC })).json() as { id: string };
  const empty = await instance.inject({ method: 'GET', url: `/v1/runs/${id}/samples?kind=rejected`, headers: AUTH });
  t.equal(empty.statusCode, 200);
  t.same(empty.json(), { id, kind: 'rejected', offset: 0, limit: 20, samples: [], nextOffset: null });
  await redis.hset(runKeys(prefix, id).offsets, 'documents', 1234);
  const res = await instance.inject({ method: 'GET', url: `/v1/runs/${id}/samples`, headers: AUTH });
  t.equal(res.statusCode, 409);
  t.match(res.json().error, /documents\.jsonl of run .* is missing but 1234 B were committed/);
  const unknown = await instance.inject({ method: 'GET', url: '/v1/runs/run_nope/samples', headers: AUTH });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { error: String });
});
