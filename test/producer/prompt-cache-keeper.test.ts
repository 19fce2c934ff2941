import t, { type Test } from 'tap';
import { PriceTable } from '../../core/cost/price-table.js';
import { runKeys } from '../../core/keys.js';
import { createLogger } from '../../core/logger.js';
import { cacheDisplayName } from '../../core/prompt-cache/cache-display-name.js';
import { cachedPrefixes } from '../../core/prompt-cache/cached-prefix.js';
import { PromptCacheRecords } from '../../core/prompt-cache/prompt-cache-records.js';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { decodeEntries } from '../../core/runs/run-results.js';
import type { RunSpec } from '../../core/spec/run-spec-schema.js';
import type { SimOptions } from '../../sim/index.js';
import { PromptCacheKeeper } from '../../producer/prompt-cache-keeper.js';
import { testRedis } from '../helpers/redis.js';
import { simAndClient } from '../sim/sim-client.js';

const universe = Array.from({ length: 40 }, (_, i) => `- Fact ${i}: the lighthouse keeper of Aster Bay logs the tides at dawn.`).join('\n');
const SPEC = { universe, keyFacts: ['x'], documents: {}, prompts: { documents: { system: 'You write documents.\n<universe>\n{{universe}}\n</universe>' } } } as unknown as RunSpec;
const RUN = 'run_0keeper0test000001';
const TOKEN = 'me:1';
const prompts = new PromptLibrary();
const [PREFIX] = cachedPrefixes(SPEC, ['documents'], prompts, 300);

/** A running run owned by `TOKEN`, a simulator, and a keeper for them. */
async function setup(t: Test, sim: Partial<SimOptions> = {}, ttlS = 60) {
  const { redis, prefix } = await testRedis(t, 'keeper');
  const { sim: server, ai } = await simAndClient(t, { explicitCacheMinTokens: 200, ...sim });
  const k = runKeys(prefix, RUN);
  await redis.hset(k.meta, 'state', 'running');
  await redis.set(k.owner, TOKEN);
  const keeper = new PromptCacheKeeper({ gemini: ai, redis, prefix, prompts, prices: new PriceTable(), minTokens: 300, ttlS, logger: createLogger('silent') });
  t.teardown(() => keeper.close());
  const records = new PromptCacheRecords(redis, prefix);
  const listed = async () => {
    const names = [];
    for await (const c of await ai.caches.list()) names.push(c.name!);
    return names;
  };
  /** The usage reports on the run's results stream. */
  const reports = async () => decodeEntries(RUN, (await redis.xrange(k.results, '-', '+')) as [string, string[]][]).entries.flatMap((e) => (e.kind === 'usage' ? [e.report] : []));
  const track = () => keeper.track(RUN, SPEC, ['documents'], () => TOKEN);
  return { redis, prefix, ai, sim: server, keeper, records, listed, reports, track, k };
}

t.test('the prefix: the documents system instruction, above the threshold', async (t) => {
  t.ok(PREFIX, 'one cached prefix');
  t.same(PREFIX!.stages, ['documents']);
});

t.test('an owner that died after creating a cache but before recording it: the next owner adopts it, deletes a duplicate, creates none', async (t) => {
  const { ai, sim, records, listed, reports, track, prefix } = await setup(t);
  // What the dead owner left: its `creating` record, and two caches (it created, timed out, created again).
  await records.put(RUN, TOKEN, PREFIX!.key, { state: 'creating', model: PREFIX!.model, stages: PREFIX!.stages, since: Date.now() });
  const displayName = cacheDisplayName(prefix, RUN, PREFIX!.key);
  const older = await ai.caches.create({ model: PREFIX!.model, config: { systemInstruction: PREFIX!.system, displayName } });
  await new Promise((r) => setTimeout(r, 5));
  const newer = await ai.caches.create({ model: PREFIX!.model, config: { systemInstruction: PREFIX!.system, displayName } });
  await track();
  t.equal(sim.stats().calls['caches.create'], 2, 'no cache created by the new owner');
  t.same(await listed(), [newer.name], 'the newest kept, the duplicate deleted');
  t.not(older.name, newer.name);
  const record = (await records.all(RUN)).get(PREFIX!.key);
  t.match(record, { state: 'live', name: newer.name, tokens: newer.usageMetadata!.totalTokenCount });
  // Creation reports carry the cache's tokens (billed as input); storage reports carry none.
  const spent = (await reports()).filter((r) => r.usage.promptTokens > 0);
  t.equal(spent.length, 1, 'its creation accounted once');
  t.match(spent[0], { stage: 'prompt-cache', model: PREFIX!.model, usage: { promptTokens: newer.usageMetadata!.totalTokenCount } });
  t.ok(spent[0]!.usage.costUsd > 0, 'at the input price');
});

t.test('a `creating` record with no cache behind it (the owner died before Gemini made it): created once', async (t) => {
  const { sim, records, listed, track } = await setup(t);
  await records.put(RUN, TOKEN, PREFIX!.key, { state: 'creating', model: PREFIX!.model, stages: PREFIX!.stages, since: Date.now() });
  await track();
  t.equal(sim.stats().calls['caches.create'], 1);
  const names = await listed();
  t.equal(names.length, 1);
  t.match((await records.all(RUN)).get(PREFIX!.key), { state: 'live', name: names[0] });
});

t.test('an owner that lost the run while creating deletes the cache it made and records nothing', async (t) => {
  const { ai, redis, k, records, listed, reports, track } = await setup(t);
  const create = ai.caches.create.bind(ai.caches);
  ai.caches.create = async (params) => {
    await redis.set(k.owner, 'someone-else:2');
    return create(params);
  };
  await track();
  t.same(await listed(), [], 'the cache it made is deleted: the new owner keeps its own');
  t.match((await records.all(RUN)).get(PREFIX!.key), { state: 'creating' }, 'only the `creating` record, for the new owner to resolve');
  t.same(await reports(), [], 'no spend reported by an owner that lost the run');
});

t.test('Gemini refuses the cache (too small for the model): recorded as refused, not asked again', async (t) => {
  const { sim, keeper, records, track } = await setup(t, { explicitCacheMinTokens: 100_000 });
  await track();
  await keeper.sync(RUN);
  t.equal(sim.stats().calls['caches.create'], 1, 'asked once');
  t.match((await records.all(RUN)).get(PREFIX!.key), { state: 'refused', reason: /too small/ });
});

t.test('renewed while the run is active, its storage accounted; recreated when found gone; deleted at the end', async (t) => {
  // A 1 s TTL: renewed every 250 ms.
  const { ai, redis, sim, keeper, records, listed, reports, track, k } = await setup(t, {}, 1);
  await track();
  const [first] = await listed();
  await new Promise((r) => setTimeout(r, 300));
  await keeper.sync(RUN);
  t.equal(sim.stats().calls['caches.update'], 1, 'renewed');
  const live = (await records.all(RUN)).get(PREFIX!.key);
  t.ok(live?.state === 'live' && Date.parse(live.expireTime) > Date.now() + 500, 'its new expiry recorded');
  const storage = (await reports()).filter((r) => r.usage.promptTokens === 0);
  t.equal(storage.length, 1, 'storage accounted at the renewal');
  const expected = ((live?.state === 'live' ? live.tokens : 0) * 1 * ((live?.state === 'live' ? live.accountedUntil - live.createdAt : 0) / 3_600_000)) / 1e6;
  t.ok(Math.abs(storage[0]!.usage.costUsd - expected) < 1e-15, `at $1 per million tokens per hour on 2.5 Flash (${storage[0]!.usage.costUsd})`);

  await ai.caches.delete({ name: first! });
  await new Promise((r) => setTimeout(r, 300));
  await keeper.sync(RUN);
  const [second] = await listed();
  t.ok(second && second !== first, 'a cache found gone is created again');
  t.match((await records.all(RUN)).get(PREFIX!.key), { state: 'live', name: second });

  await redis.hset(k.meta, 'state', 'cancelled');
  const before = (await reports()).length;
  await new Promise((r) => setTimeout(r, 300));
  await keeper.sync(RUN);
  t.equal((await reports()).length, before, 'no spend written into the stream of a run that is over');
  await keeper.end(RUN);
  t.same(await listed(), [], 'deleted at the end');
  t.equal((await records.all(RUN)).size, 0, 'and its records');
});

t.test("the sweep deletes this farm's caches of runs that are not active, and nothing else", async (t) => {
  const { ai, keeper, listed, prefix } = await setup(t);
  const model = PREFIX!.model;
  const make = (displayName: string) => ai.caches.create({ model, config: { systemInstruction: PREFIX!.system, displayName } });
  const over = await make(cacheDisplayName(prefix, 'run_0over00000000000001', PREFIX!.key));
  const active = await make(cacheDisplayName(prefix, RUN, PREFIX!.key));
  const otherFarm = await make(cacheDisplayName(`${prefix}-other`, 'run_0over00000000000001', PREFIX!.key));
  const notOurs = await make('someone else’s cache');
  keeper.start(async () => [RUN]);
  t.equal(await keeper.sweep(), 1);
  t.same((await listed()).sort(), [active.name, otherFarm.name, notOurs.name].sort());
  t.notOk((await listed()).includes(over.name!));
});
