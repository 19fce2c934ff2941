import t from 'tap';
import { countTokens } from '../../sim/tokens.js';
import { simAndClient, textOfResponse, waitForBatch } from './sim-client.js';

const MODEL = 'gemini-2.5-flash';

/** A universe context of about `lines` × 14 tokens, one fact a line. */
function universe(lines: number): string {
  return Array.from({ length: lines }, (_, i) => `Fact ${i}: the lighthouse keeper of Aster Bay logs the tides twice a day.`).join('\n');
}

t.test('explicit caches: create, get, list, update, delete through ai.caches; generateContent with config.cachedContent reports the cache as cached tokens', async (t) => {
  const { sim, ai } = await simAndClient(t, { explicitCacheMinTokens: 200 });
  const system = 'You answer as the archivist of Aster Bay. <trait>warm</trait>';
  const context = universe(30);
  await t.rejects(ai.caches.create({ model: MODEL, config: { contents: 'too short' } }), /Cached content is too small\. total_token_count=\d+, min_total_token_count=200/, 'below the minimum, as Gemini refuses it');

  const cache = await ai.caches.create({ model: MODEL, config: { systemInstruction: system, contents: context, ttl: '300s', displayName: 'aster-universe' } });
  const cacheTokens = countTokens(`${system}\n${context}`);
  t.match(cache, { name: /^cachedContents\/[a-z0-9]{40}$/, model: `models/${MODEL}`, displayName: 'aster-universe', usageMetadata: { totalTokenCount: cacheTokens } });
  t.equal(Date.parse(cache.expireTime!) - Date.parse(cache.createTime!), 300_000, 'ttl sets expireTime');
  t.same(await ai.caches.get({ name: cache.name! }), cache, 'get returns the same resource');
  const listed = [];
  for await (const c of await ai.caches.list()) listed.push(c.name);
  t.same(listed, [cache.name]);

  const question = 'Who keeps the tide log?';
  const answer = await ai.models.generateContent({ model: MODEL, contents: question, config: { cachedContent: cache.name! } });
  t.equal(answer.usageMetadata?.cachedContentTokenCount, cacheTokens, 'the whole cache is cached input');
  t.equal(answer.usageMetadata?.promptTokenCount, cacheTokens + countTokens(question), 'and part of promptTokenCount');
  t.same(answer.usageMetadata?.cacheTokensDetails, [{ modality: 'TEXT', tokenCount: cacheTokens }]);
  t.equal(sim.stats().stages['chat-responses'], 1, "the cache's system instruction shaped the answer (its <trait> tag)");
  t.ok(answer.text, 'an answer');

  const later = new Date(Date.now() + 7_200_000).toISOString();
  const updated = await ai.caches.update({ name: cache.name!, config: { expireTime: later } });
  t.equal(updated.expireTime, later, 'expireTime can be changed');
  const renewed = await ai.caches.update({ name: cache.name!, config: { ttl: '600s' } });
  t.ok(Math.abs(Date.parse(renewed.expireTime!) - (Date.now() + 600_000)) < 5_000, 'so can ttl (a renewal)');

  await ai.caches.delete({ name: cache.name! });
  await t.rejects(ai.caches.get({ name: cache.name! }), /"code":403.*CachedContent not found \(or permission denied\)/, 'a deleted cache is 403 on get');
  await t.rejects(ai.models.generateContent({ model: MODEL, contents: question, config: { cachedContent: cache.name! } }), /PERMISSION_DENIED/, 'and on generateContent');
  t.match(sim.stats().calls, { 'caches.create': 2, 'caches.get': 2, 'caches.list': 1, 'caches.update': 2, 'caches.delete': 1 });
  t.same(sim.stats().caching.explicit, { hits: 1, tokens: cacheTokens });
});

t.test('a request using a cache may not also set systemInstruction or tools, nor use another model; an unknown cache is 403', async (t) => {
  const { ai } = await simAndClient(t, { explicitCacheMinTokens: 1 });
  const cache = await ai.caches.create({ model: MODEL, config: { systemInstruction: 'Be brief.', contents: universe(3) } });
  const refused = /CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config/;
  await t.rejects(ai.models.generateContent({ model: MODEL, contents: 'Hi', config: { cachedContent: cache.name!, systemInstruction: 'Be brief.' } }), refused, 'even a byte-identical system instruction');
  await t.rejects(ai.models.generateContent({ model: MODEL, contents: 'Hi', config: { cachedContent: cache.name!, tools: [{ functionDeclarations: [{ name: 'f' }] }] } }), refused);
  await t.rejects(ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'Hi', config: { cachedContent: cache.name! } }), /has to be the same/);
  await t.rejects(ai.models.generateContent({ model: MODEL, contents: 'Hi', config: { cachedContent: 'cachedContents/nosuchcache' } }), /"code":403/);
});

t.test('a cache expires by its ttl: it is then gone from get, list and generateContent', async (t) => {
  const { ai } = await simAndClient(t, { explicitCacheMinTokens: 1 });
  const cache = await ai.caches.create({ model: MODEL, config: { contents: universe(2), ttl: '1.5s' } });
  t.equal(Date.parse(cache.expireTime!) - Date.parse(cache.createTime!), 1_500, 'a fractional ttl');
  await ai.models.generateContent({ model: MODEL, contents: 'Still there?', config: { cachedContent: cache.name! } });
  await new Promise((r) => setTimeout(r, Date.parse(cache.expireTime!) + 50 - Date.now()));
  await t.rejects(ai.caches.get({ name: cache.name! }), /PERMISSION_DENIED/);
  await t.rejects(ai.models.generateContent({ model: MODEL, contents: 'Still there?', config: { cachedContent: cache.name! } }), /PERMISSION_DENIED/);
  t.same((await ai.caches.list()).page, []);
  await t.rejects(ai.caches.create({ model: MODEL, config: { contents: universe(2), ttl: '10 minutes' } }), /cached_content\.ttl/, 'a ttl that is not a Duration names the field');
});

t.test('a batch request can use an explicit cache, as Gemini allows', async (t) => {
  const { ai } = await simAndClient(t, { explicitCacheMinTokens: 1, batchDelayMs: 20 });
  const cache = await ai.caches.create({ model: MODEL, config: { contents: universe(10) } });
  const created = await ai.batches.create({ model: MODEL, src: [{ contents: 'Summarise.', config: { cachedContent: cache.name! }, metadata: { key: 'k' } }], config: { displayName: 'cached-batch' } });
  const { job } = await waitForBatch(ai, created.name!);
  const usage = job.dest!.inlinedResponses![0]!.response!.usageMetadata!;
  t.equal(usage.cachedContentTokenCount, cache.usageMetadata!.totalTokenCount);
  t.ok(textOfResponse(job.dest!.inlinedResponses![0]!.response).length > 0);
});

t.test('implicit caching: a repeated system instruction above the minimum is reported cached on the next request; below it, nothing is', async (t) => {
  const { sim, ai } = await simAndClient(t);
  const system = universe(90);
  t.ok(countTokens(system) >= 1024, `the system instruction is above the default minimum (${countTokens(system)} tokens)`);
  const first = await ai.models.generateContent({ model: MODEL, contents: 'First question?', config: { systemInstruction: system } });
  t.equal(first.usageMetadata?.cachedContentTokenCount, undefined, 'nothing cached the first time');
  const second = await ai.models.generateContent({ model: MODEL, contents: 'A different question?', config: { systemInstruction: system } });
  t.equal(second.usageMetadata?.cachedContentTokenCount, countTokens(system), 'the repeated prefix (the system instruction) is cached');
  t.equal(second.usageMetadata?.promptTokenCount, countTokens(`${system}\nA different question?`), 'and still part of promptTokenCount');
  const otherModel = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'A different question?', config: { systemInstruction: system } });
  t.equal(otherModel.usageMetadata?.cachedContentTokenCount, undefined, 'another model has its own cache');

  const short = universe(20);
  t.ok(countTokens(short) < 1024);
  for (const q of ['One?', 'Two?', 'Three?']) {
    const r = await ai.models.generateContent({ model: MODEL, contents: q, config: { systemInstruction: short } });
    t.equal(r.usageMetadata?.cachedContentTokenCount, undefined, `below the minimum nothing is cached (${q})`);
  }
  // A long prompt whose repeated part is short: what is repeated is below the minimum, so nothing is cached.
  const longTail = (n: number) => Array.from({ length: 70 }, (_, i) => `Question ${n}, detail ${i}: how many tides did the keeper log in week ${i}?`).join('\n');
  for (const n of [1, 2]) {
    const r = await ai.models.generateContent({ model: MODEL, contents: longTail(n), config: { systemInstruction: short } });
    t.ok(r.usageMetadata!.promptTokenCount! >= 1024, `the whole prompt is above the minimum (${r.usageMetadata!.promptTokenCount})`);
    t.equal(r.usageMetadata?.cachedContentTokenCount, undefined, 'but its repeated prefix is not: nothing cached');
  }
  t.same(sim.stats().caching.implicit, { hits: 1, tokens: countTokens(system) });

  // The minimum is read per request; a stable prefix at the start of the user turn counts too.
  sim.options.implicitCacheMinTokens = 100;
  const context = universe(15);
  await ai.models.generateContent({ model: MODEL, contents: `${context}\nQuestion one?` });
  const again = await ai.models.generateContent({ model: MODEL, contents: `${context}\nQuestion two?` });
  t.equal(again.usageMetadata?.cachedContentTokenCount, countTokens(context), 'the shared lines of the user turn are cached, up to the line where they differ');
});
