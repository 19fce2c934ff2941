import { request } from 'node:http';
import t, { type Test } from 'tap';
import { buildApp } from '../../api/app.js';
import { type FarmServices } from '../../api/plugins/farm-services.js';
import { loadConfig } from '../../core/config.js';
import { limitsFor } from '../../core/limiter/model-limits.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { testRedis } from '../helpers/redis.js';

/**
 * The operator's limits at the HTTP edge: each over-limit spec or body is refused with 422 naming
 * the field, the number asked and the limit (dry runs too); a spec under each is accepted; the
 * per-token request rate answers 429 with Retry-After.
 */

const SMALL = {
  name: 'limits-test',
  universe: '- The assistant admits uncertainty.',
  keyFacts: ['The assistant admits uncertainty.'],
  documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 },
};

type Extra = Pick<FarmServices, 'operatorLimits' | 'maxBodyBytes' | 'apiRateLimit' | 'apiToken'>;

async function app(t: Test, extra: Extra = {}) {
  const { redis, prefix } = await testRedis(t, 'limits');
  const queues = createStageQueues(redis, prefix);
  const runs = new RunStore(redis, prefix);
  const instance = await buildApp({ redis, prefix, runs, queues, dataDir: '/nonexistent', taskAttempts: 3, leaseTtlMs: 1000, metrics: createFarmMetrics({ defaultMetrics: false }), apiRateLimit: 0, ...extra });
  t.teardown(async () => {
    await instance.close();
    await closeQueues(Object.values(queues));
  });
  return { instance, redis, prefix };
}

type Refusal = { error: string; problems: string[] };

/** Submits the spec for real and as a dry run; both answers. */
async function submitBoth(instance: Awaited<ReturnType<typeof app>>['instance'], spec: unknown) {
  const real = await instance.inject({ method: 'POST', url: '/v1/runs', payload: spec as object });
  const dry = await instance.inject({ method: 'POST', url: '/v1/runs?dryRun=true', payload: spec as object });
  return { real, dry };
}

t.test('SDF_LIMITS is a ceiling: a spec may ask for less, never more', async (t) => {
  const { instance } = await app(t, { operatorLimits: { modelLimits: { 'gemini-2.5-flash': { rpm: 100, tpm: 50_000 } } } });
  const over = { ...SMALL, limits: { 'gemini-2.5-flash': { rpm: 500, tpm: 1000, rpd: 99_999 } } };
  const { real, dry } = await submitBoth(instance, over);
  for (const res of [real, dry]) {
    t.equal(res.statusCode, 422);
    const body = res.json() as Refusal;
    t.equal(body.error, "run spec exceeds the farm's limits");
    t.same(body.problems, [`limits.gemini-2.5-flash.rpm: model "gemini-2.5-flash" asks for rpm 500, above the farm's ceiling of 100 (SDF_LIMITS); ask for 100 or less`], 'only rpm is over (tpm is under, rpd has no ceiling)');
  }
  const under = await submitBoth(instance, { ...SMALL, limits: { 'gemini-2.5-flash': { rpm: 100, tpm: 10 }, 'other-model': { rpm: 10_000 } } });
  t.equal(under.real.statusCode, 202, 'at the ceiling, and a model without one, are accepted');
  t.equal(under.dry.statusCode, 200);

  // What the workers apply: the lower of the two, so a run submitted before a lowered ceiling stays under it.
  t.same(limitsFor('gemini-2.5-flash', { 'gemini-2.5-flash': { rpm: 100 } }, { 'gemini-2.5-flash': { rpm: 500, tpm: 7 } }), { rpm: 100, tpm: 7 });
});

t.test('SDF_ALLOWED_MODELS: every field naming another model, and every default off the list, is refused by path', async (t) => {
  const { instance } = await app(t, { operatorLimits: { allowedModels: ['gemini-2.5-flash', 'gemini-2.5-flash-lite'] } });
  const spec = {
    universe: '- one\n- two',
    documents: { model: 'gemini-2.5-pro', docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1, revise: true },
    chats: { model: 'gemini-2.5-flash', promptsPerTrait: 1 },
    stages: { revise: { model: 'gemini-3-pro' }, 'doc-ideas': { model: 'gemini-2.5-flash-lite' } },
    filters: { audit: { enabled: true, model: 'gemini-2.0-flash' } },
    limits: { 'gemini-3-flash': { rpm: 10 } },
  };
  const { real, dry } = await submitBoth(instance, spec);
  const allowed = 'gemini-2.5-flash, gemini-2.5-flash-lite (SDF_ALLOWED_MODELS)';
  for (const res of [real, dry]) {
    t.equal(res.statusCode, 422);
    t.same(new Set((res.json() as Refusal).problems), new Set([
      `documents.model: model "gemini-2.5-pro" is not allowed on this farm; allowed: ${allowed}`,
      `stages.revise.model: model "gemini-3-pro" is not allowed on this farm; allowed: ${allowed}`,
      `filters.audit.model: model "gemini-2.0-flash" is not allowed on this farm; allowed: ${allowed}`,
      `limits.gemini-3-flash: model "gemini-3-flash" is not allowed on this farm; allowed: ${allowed}`,
      // chats.responseModel is not given: the chat answers would use the farm's default.
      `stages.chat-responses.model: the default model "gemini-2.5-pro" is not allowed on this farm; name one of the allowed models: ${allowed}`,
    ]));
  }
  const ok = { ...spec, documents: { ...spec.documents, model: 'gemini-2.5-flash' }, chats: { ...spec.chats, responseModel: 'gemini-2.5-flash-lite' }, stages: { 'doc-ideas': { model: 'gemini-2.5-flash-lite' } }, filters: { audit: { enabled: true } }, limits: { 'gemini-2.5-flash': { rpm: 10 } } };
  const accepted = await submitBoth(instance, ok);
  t.equal(accepted.real.statusCode, 202, JSON.stringify(accepted.real.json()));
  t.equal(accepted.dry.statusCode, 200);

  const open = await app(t);
  t.equal((await open.instance.inject({ method: 'POST', url: '/v1/runs', payload: spec })).statusCode, 202, 'unset: any model');
});

t.test('SDF_MAX_RUN_TASKS: the dry-run upper bound of the fan-out above the maximum is refused with both numbers', async (t) => {
  const spec = { ...SMALL, documents: { docTypesPerFact: 10, ideasPerType: 10, docsPerIdea: 10 } };
  const { instance: unlimited } = await app(t);
  const estimate = (await unlimited.inject({ method: 'POST', url: '/v1/runs?dryRun=true', payload: spec })).json() as { tasks: number; stages: Record<string, { tasks: number }> };
  t.equal(estimate.stages.documents!.tasks, 1000);
  const tasks = estimate.tasks;

  const { instance: tight } = await app(t, { operatorLimits: { maxRunTasks: tasks - 1 } });
  const { real, dry } = await submitBoth(tight, spec);
  for (const res of [real, dry]) {
    t.equal(res.statusCode, 422);
    const [problem, ...rest] = (res.json() as Refusal).problems;
    t.same(rest, []);
    t.match(problem, `(spec): the run fans out to up to ${tasks} tasks (`);
    t.match(problem, 'documents 1000');
    t.match(problem, `above the farm's maximum of ${tasks - 1} per run (SDF_MAX_RUN_TASKS)`);
  }
  const { instance: exact } = await app(t, { operatorLimits: { maxRunTasks: tasks } });
  const atMax = await submitBoth(exact, spec);
  t.equal(atMax.real.statusCode, 202, 'exactly the maximum is accepted');
  t.equal(atMax.dry.statusCode, 200);
});

t.test('SDF_MAX_UNIVERSE_CHARS: a longer universe is refused with both numbers', async (t) => {
  const { instance } = await app(t, { operatorLimits: { maxUniverseChars: 40 } });
  const { real, dry } = await submitBoth(instance, { ...SMALL, universe: `- ${'x'.repeat(39)}` });
  for (const res of [real, dry]) {
    t.equal(res.statusCode, 422);
    t.same((res.json() as Refusal).problems, ["universe: 41 characters, above the farm's maximum of 40 (SDF_MAX_UNIVERSE_CHARS)"]);
  }
  const atMax = await submitBoth(instance, { ...SMALL, universe: `- ${'x'.repeat(38)}` });
  t.equal(atMax.real.statusCode, 202);
  t.equal(atMax.dry.statusCode, 200);
});

t.test('SDF_MAX_BODY_BYTES: a larger body is 422 with the limit, with content-length or chunked', async (t) => {
  const max = 4096;
  const { instance } = await app(t, { maxBodyBytes: max });
  const big = { ...SMALL, universe: `- ${'y'.repeat(6000)}` };
  const length = Buffer.byteLength(JSON.stringify(big));
  const declared = await instance.inject({ method: 'POST', url: '/v1/runs?dryRun=true', payload: big });
  t.equal(declared.statusCode, 422);
  t.same(declared.json(), { error: "request body exceeds the farm's limits", problems: [`(body): ${length} bytes, above the farm's maximum of ${max} bytes per request (SDF_MAX_BODY_BYTES)`] });

  const patch = await instance.inject({ method: 'PATCH', url: '/v1/runs/run_abc', payload: { budget: { usd: 1 }, pad: 'z'.repeat(5000) } });
  t.equal(patch.statusCode, 422, 'PATCH too');
  t.match((patch.json() as Refusal).problems[0], `above the farm's maximum of ${max} bytes`);

  // A real socket and a chunked body: no content-length, so Fastify stops reading at the limit.
  await instance.listen({ port: 0, host: '127.0.0.1' });
  const { port } = instance.server.address() as { port: number };
  const text = JSON.stringify(big);
  const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/runs', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // Written in pieces with no content-length: Node sends it chunked.
    for (let i = 0; i < text.length; i += 1000) req.write(text.slice(i, i + 1000));
    req.end();
  });
  t.equal(chunked.status, 422);
  t.same(JSON.parse(chunked.body), { error: "request body exceeds the farm's limits", problems: [`(body): more than ${max} bytes (sent without content-length, stopped at the limit), above the farm's maximum of ${max} bytes per request (SDF_MAX_BODY_BYTES)`] });

  const small = await instance.inject({ method: 'POST', url: '/v1/runs', payload: SMALL });
  t.equal(small.statusCode, 202, 'a body under the limit is accepted');
});

t.test('SDF_API_RATE_LIMIT: 429 with Retry-After per token; tokens and IPs counted apart; probes exempt', async (t) => {
  const { instance, redis, prefix } = await app(t, { apiRateLimit: 3 });
  const get = (token?: string, url = '/v1/runs') => instance.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  for (let i = 0; i < 3; i += 1) t.equal((await get('token-a')).statusCode, 200, `token a, request ${i + 1}`);
  const refused = await get('token-a');
  t.equal(refused.statusCode, 429);
  const retryAfter = Number(refused.headers['retry-after']);
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${refused.headers['retry-after']} in seconds`);
  t.match(refused.json(), { error: /at most 3 requests a minute per token \(SDF_API_RATE_LIMIT\); retry in/ });

  t.equal((await get('token-b')).statusCode, 200, 'another token has its own count');
  t.equal((await get()).statusCode, 200, 'no token: counted by client IP');
  for (const path of ['/healthz', '/readyz', '/metrics', '/healthz', '/readyz']) t.equal((await get('token-a', path)).statusCode, 200, `${path} is exempt`);
  t.equal((await get('token-a')).statusCode, 429, 'token a is still refused');

  const keys = await redis.keys(`${prefix}:api-rate:*`);
  t.equal(keys.length, 3, 'one counter each: token a, token b, the IP');
  t.notOk(keys.some((k) => k.includes('token-a') || k.includes('token-b')), 'the raw token is never a key');

  const { instance: off } = await app(t, { apiRateLimit: 0 });
  for (let i = 0; i < 5; i += 1) t.equal((await off.inject({ method: 'GET', url: '/v1/runs' })).statusCode, 200, '0 turns it off');
});

t.test('with auth on, a request with an unknown token is refused before it is counted', async (t) => {
  const { instance, redis, prefix } = await app(t, { apiRateLimit: 2, apiToken: 'the-token' });
  const get = (token: string) => instance.inject({ method: 'GET', url: '/v1/runs', headers: { authorization: `Bearer ${token}` } });
  for (let i = 0; i < 3; i += 1) t.equal((await get(`guess-${i}`)).statusCode, 401);
  t.same(await redis.keys(`${prefix}:api-rate:*`), [], 'no counter for refused tokens');
  t.equal((await get('the-token')).statusCode, 200);
  t.equal((await get('the-token')).statusCode, 200);
  t.equal((await get('the-token')).statusCode, 429);
});

t.test('config: the limits come from the environment with safe defaults', async (t) => {
  const defaults = loadConfig({});
  t.match(defaults, { allowedModels: undefined, maxRunTasks: 10_000_000, maxUniverseChars: 200_000, maxBodyBytes: 10 * 1024 * 1024, apiRateLimit: 600 });
  const set = loadConfig({ SDF_ALLOWED_MODELS: ' gemini-2.5-flash, gemini-2.5-pro ,', SDF_MAX_RUN_TASKS: '5', SDF_MAX_UNIVERSE_CHARS: '6', SDF_MAX_BODY_BYTES: '7', SDF_API_RATE_LIMIT: '0' });
  t.match(set, { allowedModels: ['gemini-2.5-flash', 'gemini-2.5-pro'], maxRunTasks: 5, maxUniverseChars: 6, maxBodyBytes: 7, apiRateLimit: 0 });
  t.throws(() => loadConfig({ SDF_ALLOWED_MODELS: ' , ' }), /SDF_ALLOWED_MODELS: must list at least one model/);
  t.throws(() => loadConfig({ SDF_MAX_RUN_TASKS: '0' }), /SDF_MAX_RUN_TASKS: must be an integer >= 1/);
});

t.test('an eval is held to the same allow-list and universe length as a run', async (t) => {
  const { instance } = await app(t, { operatorLimits: { allowedModels: ['sim-a', 'sim-b'], maxUniverseChars: 100 } });
  const evalSpec = { name: 'e', universe: '- The assistant admits uncertainty.', probesPerTrait: 2, models: ['sim-a', 'gpt-x'] };
  const over = await instance.inject({ method: 'POST', url: '/v1/evals', payload: evalSpec });
  t.equal(over.statusCode, 422);
  const body = over.json() as Refusal;
  t.equal(body.error, "eval spec exceeds the farm's limits");
  t.same(body.problems, [
    'models[1]: model "gpt-x" is not allowed on this farm; allowed: sim-a, sim-b (SDF_ALLOWED_MODELS)',
    'judge: the default model "gemini-2.5-flash" is not allowed on this farm; name one of the allowed models: sim-a, sim-b (SDF_ALLOWED_MODELS)',
  ]);
  const long = await instance.inject({ method: 'POST', url: '/v1/evals', payload: { ...evalSpec, models: ['sim-a'], judge: 'sim-b', universe: `- ${'u'.repeat(120)}` } });
  t.equal(long.statusCode, 422);
  t.same((long.json() as Refusal).problems, ["universe: 122 characters, above the farm's maximum of 100 (SDF_MAX_UNIVERSE_CHARS)"]);
  const fits = await instance.inject({ method: 'POST', url: '/v1/evals', payload: { ...evalSpec, models: ['sim-a', 'sim-b'], judge: 'sim-b' } });
  t.equal(fits.statusCode, 202, 'allowed targets and judge are accepted');
});
