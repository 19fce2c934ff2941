import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { buildApp } from '../../api/app.js';
import { ApiTokens } from '../../core/auth/api-tokens.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { STAGES } from '../../core/stages.js';
import { testRedis } from '../helpers/redis.js';

const SPEC = { name: 'auth-test', universe: '- The assistant admits uncertainty.', documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } };

const newToken = () => randomBytes(24).toString('hex');
const TOKENS = { read: newToken(), submit: newToken(), admin: newToken(), env: newToken() };

function tokenFile(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tokens.yaml');
  writeFileSync(path, text);
  return path;
}

const entries = (list: Record<string, string>) => Object.entries(list).map(([role, token]) => `- name: ${role}-client\n  role: ${role}\n  token: ${token}\n`).join('');

async function app(t: Test, apiTokens: ApiTokens, logger?: Logger) {
  const { redis, prefix } = await testRedis(t, 'auth');
  const queues = createStageQueues(redis, prefix);
  const runs = new RunStore(redis, prefix);
  const services = { redis, prefix, runs, queues, dataDir: '/nonexistent', taskAttempts: 3, leaseTtlMs: 1000, metrics: createFarmMetrics({ defaultMetrics: false }), apiTokens };
  const instance = await buildApp(services, logger ? { loggerInstance: logger } : {});
  t.teardown(async () => {
    apiTokens.close();
    await instance.close();
    await closeQueues(Object.values(queues));
  });
  return instance;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (token: string, user = 'anyone') => ({ authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` });

t.test('roles: read, submit and admin against the real routes; 401 without a known token, 403 without the role', async (t) => {
  const file = tokenFile(t, entries({ read: TOKENS.read, submit: TOKENS.submit, admin: TOKENS.admin }));
  const api = await app(t, new ApiTokens({ envToken: TOKENS.env, file }));
  const call = (method: string, url: string, who?: keyof typeof TOKENS, payload?: object) =>
    api.inject({ method: method as 'GET', url, headers: who ? bearer(TOKENS[who]) : {}, ...(payload ? { payload } : {}) });

  // Submitting needs submit; a read token is refused with 403 and a JSON error.
  const refused = await call('POST', '/v1/runs', 'read', SPEC);
  t.equal(refused.statusCode, 403);
  t.match(refused.json(), { error: /read-client.*role read.*POST \/v1\/runs needs submit/ });
  const submitted = await call('POST', '/v1/runs', 'submit', SPEC);
  t.equal(submitted.statusCode, 202, submitted.body);
  const id = (submitted.json() as { id: string }).id;
  t.equal((await call('POST', '/v1/runs', 'admin', SPEC)).statusCode, 202, 'admin may submit');
  t.equal((await call('POST', '/v1/runs', 'env', SPEC)).statusCode, 202, 'SDF_API_TOKEN is admin');

  const matrix: [string, string, Record<'read' | 'submit' | 'admin', 'allowed' | 403>, object?][] = [
    ['GET', '/v1/runs', { read: 'allowed', submit: 'allowed', admin: 'allowed' }],
    ['GET', `/v1/runs/${id}`, { read: 'allowed', submit: 'allowed', admin: 'allowed' }],
    ['GET', `/v1/runs/${id}/failed`, { read: 'allowed', submit: 'allowed', admin: 'allowed' }],
    ['GET', `/v1/runs/${id}/patterns`, { read: 'allowed', submit: 'allowed', admin: 'allowed' }],
    ['GET', `/v1/runs/${id}/export?kind=documents`, { read: 'allowed', submit: 'allowed', admin: 'allowed' }],
    ['PATCH', `/v1/runs/${id}`, { read: 403, submit: 'allowed', admin: 'allowed' }, { priority: 1 }],
    ['POST', `/v1/runs/${id}/retry-failed`, { read: 403, submit: 'allowed', admin: 'allowed' }],
    ['POST', `/v1/runs/${id}/cancel`, { read: 403, submit: 'allowed', admin: 'allowed' }],
    ['DELETE', `/v1/runs/${id}`, { read: 403, submit: 403, admin: 'allowed' }],
    ['GET', '/queues', { read: 403, submit: 403, admin: 'allowed' }],
    ['GET', '/queues/api/queues', { read: 403, submit: 403, admin: 'allowed' }],
  ];
  for (const [method, url, expected, payload] of matrix) {
    const anonymous = await call(method, url, undefined, payload);
    t.equal(anonymous.statusCode, 401, `${method} ${url} without a token`);
    t.match(anonymous.headers['www-authenticate'], /Bearer/);
    t.match(anonymous.json(), { error: String });
    for (const role of ['read', 'submit', 'admin'] as const) {
      const res = await call(method, url, role, payload);
      if (expected[role] === 403) t.equal(res.statusCode, 403, `${method} ${url} as ${role}`);
      else t.notOk([401, 403].includes(res.statusCode), `${method} ${url} as ${role} passes auth (${res.statusCode} ${res.body.slice(0, 80)})`);
    }
  }

  const unknown = await api.inject({ method: 'GET', url: '/v1/runs', headers: bearer(newToken()) });
  t.equal(unknown.statusCode, 401, 'an unknown token');
  t.equal(unknown.headers['www-authenticate'], 'Bearer');
  t.same(unknown.json(), { error: 'unknown token' });
  t.equal((await api.inject({ method: 'GET', url: '/v1/runs', headers: bearer(TOKENS.read.slice(0, -1)) })).statusCode, 401, 'a prefix of a token');
  t.equal((await api.inject({ method: 'GET', url: '/v1/runs', headers: basic(TOKENS.admin) })).statusCode, 401, 'Basic credentials count only for /queues');

  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await call('GET', url)).statusCode, 200, `${url} is open`);
  for (const url of ['/ui/', '/ui/index.html', '/docs', '/docs/json']) t.notOk([401, 403].includes((await call('GET', url)).statusCode), `${url} is open`);
  t.equal((await call('GET', '/nowhere')).statusCode, 401, 'a path no rule opens needs a token');
});

t.test('/queues: bull-board behind the admin token, by Bearer or by HTTP Basic for browsers', async (t) => {
  const api = await app(t, ApiTokens.of([{ token: TOKENS.admin, role: 'admin' }, { token: TOKENS.submit, role: 'submit' }]));
  const anonymous = await api.inject({ method: 'GET', url: '/queues' });
  t.equal(anonymous.statusCode, 401);
  t.match(String(anonymous.headers['www-authenticate']), /Basic realm=/, 'a browser is asked for Basic credentials');
  t.equal((await api.inject({ method: 'GET', url: '/queues', headers: basic(TOKENS.submit) })).statusCode, 403, 'a submit token is not enough');
  t.equal((await api.inject({ method: 'GET', url: '/queues', headers: basic('wrong-password-0123456') })).statusCode, 401);

  const board = await api.inject({ method: 'GET', url: '/queues', headers: basic(TOKENS.admin) });
  t.equal(board.statusCode, 200);
  t.match(board.headers['content-type'], /text\/html/);
  t.match(board.body, /sdf-farm/, 'the board, with its title');
  const script = /src="(static\/js\/main[^"]*\.js)"/.exec(board.body)?.[1];
  t.ok(script, 'the page loads its script from /queues/static');
  const asset = `/queues/${script}`;
  t.equal((await api.inject({ method: 'GET', url: asset })).statusCode, 401, 'its static files need the token too');
  t.equal((await api.inject({ method: 'GET', url: asset, headers: basic(TOKENS.admin) })).statusCode, 200);

  const listed = await api.inject({ method: 'GET', url: '/queues/api/queues', headers: bearer(TOKENS.admin) });
  t.equal(listed.statusCode, 200);
  t.same(((listed.json() as { queues: { name: string }[] }).queues.map((q) => q.name)).sort(), [...STAGES].sort(), 'every stage queue is on the board');
  t.equal((await api.inject({ method: 'GET', url: '/queues/api/queues' })).statusCode, 401, 'the board API needs the token');
});

t.test('tokens are compared in constant time: sha256 digests of equal length, every known token checked', async (t) => {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const original = crypto.timingSafeEqual;
  const lengths: number[][] = [];
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    lengths.push([a.byteLength, b.byteLength]);
    return original(a, b);
  }) as typeof original;
  syncBuiltinESMExports();
  t.teardown(() => {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  });
  const tokens = ApiTokens.of([{ token: TOKENS.read, role: 'read' }, { token: TOKENS.submit, role: 'submit' }, { token: TOKENS.admin, role: 'admin' }]);
  for (const given of [TOKENS.read, 'x', TOKENS.admin + 'longer-than-any', TOKENS.admin]) {
    lengths.length = 0;
    const holder = tokens.identify(given);
    t.equal(lengths.length, 3, `every known token compared for a ${holder ? 'known' : 'unknown'} token: no early exit`);
    t.ok(lengths.every(([a, b]) => a === 32 && b === 32), 'both sides are 32-byte digests whatever the length given');
  }
  t.equal(tokens.identify(TOKENS.admin)?.role, 'admin');
});

t.test('rotation: the token file is re-read when it changes; a removed token stops working within seconds', async (t) => {
  const oldToken = newToken();
  const keptToken = newToken();
  const file = tokenFile(t, entries({ read: oldToken, admin: keptToken }));
  const logged = capture();
  const api = await app(t, new ApiTokens({ envToken: TOKENS.env, file, logger: createLogger('info', {}, logged.stream) }));
  const status = async (token: string) => (await api.inject({ method: 'GET', url: '/v1/runs', headers: bearer(token) })).statusCode;
  async function within(ms: number, token: string, expected: number): Promise<number> {
    const start = Date.now();
    while ((await status(token)) !== expected) {
      if (Date.now() - start > ms) return Infinity;
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - start;
  }
  t.equal(await status(oldToken), 200);

  // Rewritten in place.
  const newcomer = newToken();
  writeFileSync(file, entries({ submit: newcomer, admin: keptToken }));
  t.ok((await within(3000, oldToken, 401)) < 3000, 'the removed token is refused within 3 s');
  t.equal(await status(newcomer), 200, 'the added token works');
  t.equal(await status(keptToken), 200, 'the kept token still works');

  // Replaced by a rename, as a Kubernetes Secret volume does.
  const replacement = `${file}.next`;
  writeFileSync(replacement, entries({ admin: keptToken }));
  renameSync(replacement, file);
  t.ok((await within(3000, newcomer, 401)) < 3000, 'a token removed by a rename is refused within 3 s');

  // A rewrite that does not parse revokes the file's tokens (fail closed); SDF_API_TOKEN still works.
  writeFileSync(file, `- role: admin\n  token: ${keptToken}\n  colour: blue\n`);
  t.ok((await within(3000, keptToken, 401)) < 3000, 'a broken file revokes its tokens');
  t.equal(await status(TOKENS.env), 200);
  t.match(logged.text(), /no longer parses/);
  t.match(logged.text(), /entry 1 \(line 3\): colour: unknown field/);
  writeFileSync(file, entries({ admin: keptToken }));
  t.ok((await within(3000, keptToken, 200)) < 3000, 'fixed, its tokens work again');
  t.notMatch(logged.text(), new RegExp(`${keptToken}|${oldToken}|${newcomer}`), 'no token in the reload logs');
});

function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

t.test('tokens never reach the logs: request logging and the logger redact them', async (t) => {
  const logged = capture();
  const logger = createLogger('trace', {}, logged.stream);
  const api = await app(t, ApiTokens.of([{ token: TOKENS.admin, role: 'admin' }, { token: TOKENS.read, role: 'read' }]), logger);
  await api.inject({ method: 'GET', url: '/v1/runs', headers: bearer(TOKENS.admin) });
  await api.inject({ method: 'POST', url: '/v1/runs', headers: bearer(TOKENS.read), payload: SPEC });
  await api.inject({ method: 'GET', url: '/queues', headers: basic(TOKENS.admin) });
  const stranger = newToken();
  await api.inject({ method: 'GET', url: '/v1/runs', headers: bearer(stranger) });
  // What a careless log line might hold: the headers of a request, a token field, a config object.
  logger.info({ req: { headers: { authorization: `Bearer ${TOKENS.admin}`, cookie: `t=${TOKENS.read}` } } }, 'headers');
  logger.info({ headers: bearer(TOKENS.admin), token: TOKENS.read }, 'fields');
  logger.info({ config: { apiToken: TOKENS.admin }, entry: { token: TOKENS.read } }, 'config');
  const text = logged.text();
  t.match(text, /incoming request/, 'request logging was on');
  t.match(text, /\[redacted\]/);
  t.match(text, /"caller":"token 1".*"msg":"request completed"/, "a request's log lines name its token's holder");
  for (const token of [TOKENS.admin, TOKENS.read, stranger, Buffer.from(`anyone:${TOKENS.admin}`).toString('base64')]) {
    t.notOk(text.includes(token), 'a token (or its Basic encoding) was not logged');
  }
});
