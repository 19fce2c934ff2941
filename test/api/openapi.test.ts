import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import type { FastifyInstance, RouteOptions } from 'fastify';
import t, { type Test } from 'tap';
import { stringify as toYaml } from 'yaml';
import { buildApp } from '../../api/app.js';
import { DOCS_PREFIX } from '../../api/plugins/openapi.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { testRedis } from '../helpers/redis.js';

/* The OpenAPI document at /docs/json: every route is in it, it is valid OpenAPI 3, every example in it validates, and real answers fit it. */

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ?? addFormatsImport) as unknown as (ajv: Ajv2020) => Ajv2020;

const TOKEN = 'openapi-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
/** Pages, not API: they may be hidden from the document (Swagger UI, the run page, bull-board). */
const UI_PREFIXES = [DOCS_PREFIX, '/ui', '/queues'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

// The document is walked as plain JSON; its shape is what the assertions check.
type Json = Record<string, any>;

// Every route any plugin adds, caught as it is added: Fastify announces each new instance on this channel before any plugin is registered.
const routes: RouteOptions[] = [];
const onInit = (message: unknown) => {
  (message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (route) => {
    routes.push(route);
  });
};
subscribe('fastify.initialization', onInit);

const { redis, prefix } = await testRedis(t, 'openapi');
const queues = createStageQueues(redis, prefix);
const runs = new RunStore(redis, prefix);
const app = await buildApp({ redis, prefix, runs, queues, dataDir: '/nonexistent', taskAttempts: 3, leaseTtlMs: 1000, metrics: createFarmMetrics({ defaultMetrics: false }), apiToken: TOKEN });
unsubscribe('fastify.initialization', onInit);
t.teardown(async () => {
  await app.close();
  await closeQueues(Object.values(queues));
});

const docResponse = await app.inject({ method: 'GET', url: `${DOCS_PREFIX}/json` });
if (docResponse.statusCode !== 200) throw new Error(`${DOCS_PREFIX}/json answered ${docResponse.statusCode} without a token: ${docResponse.body}`);
const doc = docResponse.json() as Json;
// Examples are checked against the schemas with every $ref resolved; the validator gets its own copy (it resolves in place).
const resolved = (await SwaggerParser.dereference(structuredClone(doc) as never)) as Json;

const ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));

// Dereferencing copies shared schemas (the run spec is in several places): compile each text once.
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

function check(t: Test, schema: unknown, value: unknown, where: string) {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) compiled.set(key, (validate = ajv.compile(schema as object)));
  t.ok(validate(value), `${where} fits its schema`, { errors: validate.errors });
}

/** Every `examples` array inside a schema, checked against the schema that holds it. */
function checkSchemaExamples(t: Test, schema: unknown, where: string, seen = new Set<unknown>()): number {
  if (schema === null || typeof schema !== 'object' || seen.has(schema)) return 0;
  seen.add(schema);
  let count = 0;
  const s = schema as Json;
  if (Array.isArray(s.examples) && (s.type !== undefined || s.properties || s.anyOf)) {
    for (const example of s.examples) check(t, s, example, `${where} (schema example)`);
    count += s.examples.length;
  }
  for (const [key, value] of Object.entries(s)) if (key !== 'examples') count += checkSchemaExamples(t, value, `${where}.${key}`, seen);
  return count;
}

/** A media or parameter object's `example` and named `examples`, each against its `schema`. */
function checkMediaExamples(t: Test, holder: Json, where: string): number {
  let count = 0;
  if (holder.example !== undefined) {
    check(t, holder.schema, holder.example, `${where} example`);
    count++;
  }
  for (const [name, example] of Object.entries((holder.examples ?? {}) as Record<string, { value: unknown }>)) {
    check(t, holder.schema, example.value, `${where} example "${name}"`);
    count++;
  }
  return count + checkSchemaExamples(t, holder.schema, where);
}

function operations(document: Json): Array<{ method: string; path: string; op: Json }> {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method: method.toUpperCase(), path, op: item[method] as Json })),
  );
}

/** `/v1/runs/:id/export` → `/v1/runs/{id}/export`. */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The documented schema of a status answer of one operation. */
function responseSchema(method: string, path: string, status: number, type = 'application/json'): unknown {
  const response = resolved.paths[path]?.[method.toLowerCase()]?.responses?.[String(status)];
  if (!response) throw new Error(`${method} ${path} documents no ${status}`);
  return response.content[type].schema;
}

t.test('the document is served without a token and is valid OpenAPI 3', async (t) => {
  t.equal(docResponse.statusCode, 200);
  t.match(doc.openapi, /^3\.1\./);
  // @apidevtools/swagger-parser: the official OpenAPI 3.x JSON Schema, plus what a schema cannot say (unique operation ids, declared path parameters, …).
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser finds it valid');
});

t.test('every route is in the document, and the document lists no route that is not there', async (t) => {
  const api: string[] = [];
  for (const route of routes) {
    const methods = ([] as string[]).concat(route.method);
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    if (hidden) {
      t.ok(UI_PREFIXES.some((p) => route.url === p || route.url.startsWith(`${p}/`)), `${methods.join(',')} ${route.url} is hidden from the document: only pages may be`);
      continue;
    }
    // Fastify adds a HEAD twin to every GET route; the GET stands for both.
    for (const method of methods.filter((m) => m !== 'HEAD' || !routes.some((r) => r.url === route.url && ([] as string[]).concat(r.method).includes('GET')))) {
      api.push(`${method} ${openapiPath(route.url)}`);
    }
  }
  t.ok(api.length >= 13, `${api.length} API routes registered`);
  const documented = operations(doc).map(({ method, path }) => `${method} ${path}`);
  for (const route of api) t.ok(documented.includes(route), `${route} is documented`);
  for (const operation of documented) t.ok(api.includes(operation), `${operation} is a route`);
});

t.test('every operation says what it is, where it belongs and what it answers', async (t) => {
  const tags = new Set((doc.tags as Array<{ name: string }>).map((tag) => tag.name));
  for (const { method, path, op } of operations(doc)) {
    const name = `${method} ${path}`;
    t.ok(op.summary, `${name} has a summary`);
    t.ok(op.description, `${name} has a description`);
    t.ok(op.tags?.length > 0 && op.tags.every((tag: string) => tags.has(tag)), `${name} has declared tags`);
    const statuses = Object.keys(op.responses);
    t.ok(statuses.some((s) => s.startsWith('2')), `${name} documents a success`);
    for (const status of statuses) t.not(op.responses[status].description, 'Default Response', `${name} ${status} is described`);
    if (path.startsWith('/v1/')) {
      t.same(op.security, [{ bearer: [] }], `${name} needs the bearer token`);
      t.ok(op.responses['401'] && op.responses['403'], `${name} documents 401 and 403`);
      t.ok(op.responses['400'], `${name} documents 400`);
    }
    for (const status of statuses.filter((s) => s.startsWith('4'))) {
      t.ok(op.responses[status].content?.['application/json']?.schema?.properties?.error, `${name} ${status} answers {error}`);
    }
  }
});

t.test('every example validates against its schema', async (t) => {
  let count = 0;
  for (const { method, path, op } of operations(resolved)) {
    const name = `${method} ${path}`;
    for (const parameter of (op.parameters ?? []) as Json[]) count += checkMediaExamples(t, parameter, `${name} parameter ${parameter.name}`);
    for (const [type, media] of Object.entries((op.requestBody?.content ?? {}) as Record<string, Json>)) count += checkMediaExamples(t, media, `${name} body ${type}`);
    for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
      for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, Json>)) count += checkMediaExamples(t, media, `${name} ${status} ${type}`);
    }
  }
  t.ok(count >= 60, `${count} examples checked`);
});

t.test('POST /v1/runs documents both content types, and the API accepts every example spec in each', async (t) => {
  const content = doc.paths['/v1/runs'].post.requestBody.content as Record<string, Json>;
  t.same(Object.keys(content).sort(), ['application/json', 'application/yaml']);
  for (const [type, media] of Object.entries(content)) {
    const examples = Object.entries(media.examples as Record<string, { value: unknown }>);
    t.ok(examples.length >= 2, `${type} has examples`);
    for (const [name, { value }] of examples) {
      const payload = type === 'application/yaml' ? toYaml(value) : JSON.stringify(value);
      const res = await app.inject({ method: 'POST', url: '/v1/runs?dryRun=true', headers: { ...auth, 'content-type': type }, payload });
      t.equal(res.statusCode, 200, `${type} example "${name}" is a spec the farm accepts`, { body: res.body });
      check(t, responseSchema('POST', '/v1/runs', 200), res.json(), 'the dry run answer');
    }
  }
});

t.test('the body schema is documentation only: the route still answers every problem by path', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { universe: 'x', chats: { promptsPerTrait: '2' }, extra: 1 } });
  t.equal(res.statusCode, 400);
  const body = res.json() as { error: string; problems: string[] };
  t.equal(body.error, 'invalid run spec');
  t.same(new Set(body.problems), new Set(['extra: is not a known field', 'chats.promptsPerTrait: must be integer']));
  check(t, responseSchema('POST', '/v1/runs', 400), res.json(), 'POST /v1/runs 400');
});

t.test('real answers fit the documented schemas', async (t) => {
  const spec = doc.paths['/v1/runs'].post.requestBody.content['application/json'].examples.documentsAndChats.value;
  const submitted = await app.inject({ method: 'POST', url: '/v1/runs', headers: { ...auth, 'idempotency-key': 'openapi-test' }, payload: spec });
  t.equal(submitted.statusCode, 202);
  check(t, responseSchema('POST', '/v1/runs', 202), submitted.json(), 'POST /v1/runs 202');
  const { id } = submitted.json() as { id: string };
  const other = await app.inject({ method: 'POST', url: '/v1/runs', headers: { ...auth, 'idempotency-key': 'openapi-test' }, payload: { ...spec, seed: 2 } });
  check(t, responseSchema('POST', '/v1/runs', other.statusCode), other.json(), `POST /v1/runs ${other.statusCode}`);

  const answers: Array<[string, string, string, number, unknown?]> = [
    ['GET', `/v1/runs/${id}`, '/v1/runs/{id}', 200],
    ['GET', '/v1/runs?limit=5', '/v1/runs', 200],
    ['GET', '/v1/runs?limit=0', '/v1/runs', 400],
    ['GET', `/v1/runs/${id}/failed`, '/v1/runs/{id}/failed', 200],
    ['GET', `/v1/runs/${id}/patterns`, '/v1/runs/{id}/patterns', 200],
    ['GET', `/v1/runs/${id}/export?kind=documents&format=messages`, '/v1/runs/{id}/export', 400],
    ['PATCH', `/v1/runs/${id}`, '/v1/runs/{id}', 200, { budget: { usd: 10 } }],
    ['PATCH', `/v1/runs/${id}`, '/v1/runs/{id}', 400, { budget: { usd: -1 } }],
    ['GET', '/v1/runs/run_0nosuchrun', '/v1/runs/{id}', 404],
    ['GET', '/v1/runs/not-a-run', '/v1/runs/{id}', 400],
    ['POST', `/v1/runs/${id}/cancel`, '/v1/runs/{id}/cancel', 200],
    ['POST', `/v1/runs/${id}/retry-failed`, '/v1/runs/{id}/retry-failed', 409],
    ['DELETE', `/v1/runs/${id}`, '/v1/runs/{id}', 200],
    ['GET', '/healthz', '/healthz', 200],
    ['GET', '/readyz', '/readyz', 200],
  ];
  for (const [method, url, path, status, payload] of answers) {
    const res = await app.inject({ method: method as 'GET', url, headers: auth, ...(payload ? { payload: payload as object } : {}) });
    t.equal(res.statusCode, status, `${method} ${url} answers ${status}`, { body: res.body });
    check(t, responseSchema(method, path, status), res.json(), `${method} ${url} ${status}`);
  }
  const badKind = await app.inject({ method: 'GET', url: `/v1/runs/${id}/export?kind=nope`, headers: auth });
  t.same(badKind.json(), { error: 'querystring/kind must be equal to one of the allowed values' }, 'one clear error naming the field');
  const unauthorized = await app.inject({ method: 'GET', url: '/v1/runs' });
  t.equal(unauthorized.statusCode, 401);
  check(t, responseSchema('GET', '/v1/runs', 401), unauthorized.json(), 'GET /v1/runs 401');
});

t.test('the UI is served from the package, without a token', async (t) => {
  const page = await app.inject({ method: 'GET', url: DOCS_PREFIX });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /swagger-ui-bundle\.js/);
  t.notMatch(page.body, /https?:\/\//, 'no asset from elsewhere');
  const bundle = await app.inject({ method: 'GET', url: `${DOCS_PREFIX}/static/swagger-ui-bundle.js` });
  t.equal(bundle.statusCode, 200);
  t.ok(bundle.body.length > 100_000, 'the Swagger UI bundle is served');
  const initializer = await app.inject({ method: 'GET', url: `${DOCS_PREFIX}/static/swagger-initializer.js` });
  t.match(initializer.body, "resolveUrl('./json')", 'the UI reads the document from beside it');
});
