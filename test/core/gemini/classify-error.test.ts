import t from 'tap';
import { classifyGeminiError, parseRetryDelay } from '../../../core/gemini/classify-error.js';
import { createGeminiClient } from '../../../core/gemini/create-gemini-client.js';
import { startSim } from '../../../sim/index.js';

/** What the real SDK throws for a request the simulator answers with an error. */
async function thrown(sim: { url: string }, contents = 'hello'): Promise<unknown> {
  const gemini = createGeminiClient({ baseUrl: sim.url, timeoutMs: 10_000 });
  try {
    await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents });
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

t.test('a 429 over the per-minute quota: rate-limited, with RetryInfo delay and quota id', async (t) => {
  const sim = await startSim({ port: 0, rpm: 1 });
  t.teardown(() => sim.close());
  await createGeminiClient({ baseUrl: sim.url }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'first' });
  const err = await thrown(sim);
  t.equal((err as { status: number }).status, 429);
  const c = classifyGeminiError(err);
  t.match(c, { kind: 'rate-limited', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel', perDay: false });
  t.ok(c.kind === 'rate-limited' && c.retryAfterMs! >= 59_000 && c.retryAfterMs! <= 60_000, 'the delay is the real time to the window freeing');
});

t.test('a 429 over the daily quota is marked per-day', async (t) => {
  const sim = await startSim({ port: 0, rpd: 1 });
  t.teardown(() => sim.close());
  await createGeminiClient({ baseUrl: sim.url }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'first' });
  t.match(classifyGeminiError(await thrown(sim)), { kind: 'rate-limited', perDay: true, quotaId: 'GenerateRequestsPerDayPerProjectPerModel' });
});

t.test('5xx and unanswered requests are transient; 4xx are fatal with the provider message', async (t) => {
  const failing = await startSim({ port: 0, errorRate5xx: 1 });
  t.teardown(() => failing.close());
  const server = classifyGeminiError(await thrown(failing));
  t.equal(server.kind, 'transient');
  t.ok(server.kind === 'transient' && (server.status === 500 || server.status === 503));

  const silent = await startSim({ port: 0, timeoutRate: 1 });
  t.teardown(() => silent.close());
  const gemini = createGeminiClient({ baseUrl: silent.url, timeoutMs: 300 });
  const timeout = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e);
  t.match(classifyGeminiError(timeout), { kind: 'transient' });

  const ok = await startSim({ port: 0 });
  t.teardown(() => ok.close());
  const res = await fetch(`${ok.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': 'k' }, body: '{broken' });
  t.equal(res.status, 400);
  const bad = await thrown(ok, '');
  t.match(classifyGeminiError(bad), { kind: 'fatal', status: 400, message: /contents is not specified/ });
});

t.test('retry delays', async (t) => {
  t.equal(parseRetryDelay('17s'), 17_000);
  t.equal(parseRetryDelay('1.5s'), 1500);
  t.equal(parseRetryDelay('250ms'), 250);
  t.equal(parseRetryDelay('soon'), undefined);
});

t.test('a 429 with no RetryInfo (a spend-based limit): rate-limited with no delay, naming the limit from its message and Help link', async (t) => {
  const sim = await startSim({ port: 0, spendCapped: true });
  t.teardown(() => sim.close());
  const c = classifyGeminiError(await thrown(sim));
  t.match(c, { kind: 'rate-limited', perDay: false });
  t.ok(c.kind === 'rate-limited' && c.retryAfterMs === undefined, 'no delay from the provider');
  t.match(c.kind === 'rate-limited' ? c.limit : '', /spending cap.*Learn more about Gemini API spend limits: https:\/\/ai\.google\.dev\/gemini-api\/docs\/billing/);
});
