import t, { type Test } from 'tap';
import { readSimCounters } from '../../bench/sim-metrics.js';
import { createGeminiClient } from '../../core/gemini/create-gemini-client.js';
import { parseCacheDisplayName } from '../../core/prompt-cache/cache-display-name.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';

/** A universe of `lines` facts, about 70 characters (and 14 simulator tokens) each. */
function universe(lines: number): string {
  return Array.from({ length: lines }, (_, i) => `- Fact ${i}: the lighthouse keeper of Aster Bay logs the tides at dawn.`).join('\n');
}
const FACTS = ['The keeper logs the tides at dawn.', 'Aster Bay has one lighthouse.'];

/** Two system instructions that hold only the universe: every task of a stage renders them the same. */
const PLAN_SYSTEM = 'You plan documents for the world described below.\n\n<universe>\n{{universe}}\n</universe>';
const WRITE_SYSTEM = 'You write realistic documents that exist in the world described below.\n\n<universe>\n{{universe}}\n</universe>';

/** doc-types and doc-ideas share a text but not a model; documents and revise share both: three caches. */
function cachedSpec(docsPerIdea = 2) {
  return {
    universe: universe(40),
    keyFacts: FACTS,
    documents: { model: 'gemini-2.5-flash', docTypesPerFact: 2, ideasPerType: 2, docsPerIdea, revise: true },
    stages: { 'doc-ideas': { model: 'gemini-2.5-flash-lite' } },
    prompts: { 'doc-types': { system: PLAN_SYSTEM }, 'doc-ideas': { system: PLAN_SYSTEM }, documents: { system: WRITE_SYSTEM }, revise: { system: WRITE_SYSTEM } },
  };
}

/** The simulator's caches made by this farm, by run. */
async function farmCaches(farm: TestFarm) {
  const ai = createGeminiClient({ baseUrl: farm.simUrl });
  const out = [];
  for await (const cache of await ai.caches.list()) {
    const parsed = parseCacheDisplayName(farm.config.prefix, cache.displayName);
    if (parsed) out.push({ ...parsed, name: cache.name!, model: cache.model!, tokens: cache.usageMetadata?.totalTokenCount ?? 0 });
  }
  return out;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** 200 answers the simulator gave, every model. */
async function answered(farm: TestFarm): Promise<number> {
  return (await readSimCounters(farm.simUrl)).byCode['200'] ?? 0;
}

t.test('a universe above the threshold: one explicit cache per (run, model, system instruction), used by every call, shown in status, deleted when the run ends', async (t) => {
  const farm = await startTestFarm(t, {
    // Implicit caching off in the simulator: every cached token below comes from an explicit cache.
    // Slow calls: the run lasts a few seconds, long enough to be seen running.
    sim: { latencyMs: 300, explicitCacheMinTokens: 200, implicitCacheMinTokens: 1_000_000 },
    env: { SDF_EXPLICIT_CACHE_MIN_TOKENS: '300' },
  });
  const worker = await farm.startWorker({ workerConcurrency: 8 });
  const runId = await farm.submit(cachedSpec());

  const running = await until('three live caches in status', async () => {
    const status = await farm.status(runId);
    return status.promptCaches?.filter((c) => c.state === 'live').length === 3 && status;
  });
  const shown = running.promptCaches.map((c) => `${c.model} ${[...c.stages].sort().join('+')}`).sort();
  t.same(shown, ['gemini-2.5-flash doc-types', 'gemini-2.5-flash documents+revise', 'gemini-2.5-flash-lite doc-ideas'], 'status lists each cache with its model and stages');
  const live = await farmCaches(farm);
  t.equal(live.length, 3, 'Gemini holds exactly three caches of the run');
  t.ok(live.every((c) => c.runId === runId));

  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const sim = farm.sim.stats();
  t.equal(sim.calls['caches.create'], 3, 'one cache created per (run, model, system instruction): no duplicates');
  const calls = await answered(farm);
  t.ok(calls > 20, `the run made ${calls} calls`);
  t.equal(sim.caching.explicit.hits, calls, 'every model call of the run named a cache (none sent its system instruction)');
  t.equal(sim.caching.implicit.hits, 0);

  t.equal(status.tokens.cached, sim.caching.explicit.tokens, 'status counts the cached tokens Gemini reported');
  t.ok(status.cacheSavingUsd > 0, `and the saving (${status.cacheSavingUsd.toFixed(6)} USD)`);
  const cachedMetric = (await worker.metrics.llmTokens.get()).values.filter((v) => v.labels.kind === 'cached').reduce((n, v) => n + v.value, 0);
  t.equal(cachedMetric, sim.caching.explicit.tokens, 'sdf_llm_tokens_total{kind="cached"} says the same');
  const creationTokens = live.reduce((n, c) => n + c.tokens, 0);
  t.equal(status.tokens.prompt, (await readSimCounters(farm.simUrl)).promptTokens + creationTokens, "creating the caches is billed as input once: the run's prompt tokens are the calls' plus the caches'");

  await until('the caches deleted and their records gone', async () => (await farmCaches(farm)).length === 0 && (await farm.status(runId)).promptCaches.length === 0);
  t.equal(farm.sim.stats().calls['caches.delete'], 3, 'each deleted once the run completed');
});

t.test('a run deleted mid-run (cancelled, then removed) has its caches deleted too', async (t) => {
  const farm = await startTestFarm(t, {
    sim: { latencyMs: 300, explicitCacheMinTokens: 200 },
    env: { SDF_EXPLICIT_CACHE_MIN_TOKENS: '300' },
  });
  await farm.startWorker({ workerConcurrency: 4 });
  const runId = await farm.submit(cachedSpec(4));
  await until('the run\'s caches', async () => (await farmCaches(farm)).length === 3);
  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}`, { method: 'DELETE' });
  t.equal(res.status, 200);
  await until('the caches deleted', async () => (await farmCaches(farm)).length === 0, 20_000);
  t.equal(farm.sim.stats().calls['caches.delete'], 3, 'each deleted once, by the run\'s owner as the run ended');
});

t.test('below the threshold no explicit cache is made; implicit caching of the stable prefix still reports cached tokens', async (t) => {
  const farm = await startTestFarm(t, { sim: { implicitCacheMinTokens: 100, explicitCacheMinTokens: 1 } });
  await farm.startWorker({ workerConcurrency: 4 });
  // ~170 tokens of universe: above the simulator's implicit minimum, far below the default 4096.
  const runId = await farm.submit({ universe: universe(12), keyFacts: FACTS, documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 } });
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const sim = farm.sim.stats();
  t.equal(sim.calls['caches.create'] ?? 0, 0, 'no explicit cache created');
  t.equal(sim.caching.explicit.hits, 0);
  t.ok(sim.caching.implicit.hits > 0, `implicit cache hits on the repeated system instruction (${sim.caching.implicit.hits})`);
  t.equal(status.tokens.cached, sim.caching.implicit.tokens, 'reported as cached tokens in status');
  t.ok(status.cacheSavingUsd > 0, 'with their saving');
  t.same(status.promptCaches, []);
});

/** A run of slow calls (documents still being written seconds after a deletion) with its caches deleted behind its back once documents use them. */
async function runWithCachesDeleted(t: Test, ttlS: string) {
  const farm = await startTestFarm(t, {
    sim: { latencyMs: 100, explicitCacheMinTokens: 200, implicitCacheMinTokens: 1_000_000 },
    env: { SDF_EXPLICIT_CACHE_MIN_TOKENS: '300', SDF_EXPLICIT_CACHE_TTL_S: ttlS },
  });
  const worker = await farm.startWorker({ workerConcurrency: 4 });
  const spec = { ...cachedSpec(), documents: { ...cachedSpec().documents, ideasPerType: 3, docsPerIdea: 8, revise: false } };
  const runId = await farm.submit(spec);
  await until('documents using their cache', async () => (farm.sim.stats().stages.documents ?? 0) >= 5);
  const ai = createGeminiClient({ baseUrl: farm.simUrl });
  const deleted = await farmCaches(farm);
  for (const cache of deleted) await ai.caches.delete({ name: cache.name });
  const hitsAtDelete = farm.sim.stats().caching.explicit.hits;
  const status = await farm.waitFor(runId);
  const fallbacks = (await worker.metrics.promptCacheFallbacks.get()).values.reduce((n, v) => n + v.value, 0);
  const refused = Object.values(farm.sim.stats().requests).reduce((n, byCode) => n + (byCode['403'] ?? 0), 0);
  return { farm, status, deleted, hitsAtDelete, fallbacks, refused };
}

t.test('a cache deleted mid-run that its owner does not notice yet: every call falls back to the system instruction, the run completes', async (t) => {
  // A 10-minute TTL: the owner's next renewal, which would find the caches gone, is a minute away.
  const { farm, status, hitsAtDelete, fallbacks, refused } = await runWithCachesDeleted(t, '600');
  t.equal(status.state, 'completed');
  t.equal(status.stages.documents?.failed ?? 0, 0, 'no task failed for it');
  t.ok(fallbacks > 0, `calls Gemini refused for their cache were sent again with the system instruction (${fallbacks})`);
  t.equal(fallbacks, refused, 'one fallback per refused call');
  t.ok(farm.sim.stats().caching.explicit.hits <= hitsAtDelete + 4, 'after the deletion no call used a cache (but the 4 in flight then)');
  t.ok((status.stages.documents?.done ?? 0) > 20, 'while the documents went on');
  t.equal(status.calls, (await answered(farm)) + refused, 'every request, the refused ones too, is counted');
});

t.test('a cache deleted mid-run is created again by its owner and used again; the run completes', async (t) => {
  // A 2 s TTL: renewed every half second, so the owner finds the caches gone within that.
  const { farm, status, deleted, hitsAtDelete, fallbacks, refused } = await runWithCachesDeleted(t, '2');
  t.equal(status.state, 'completed');
  t.equal(status.stages.documents?.failed ?? 0, 0, 'no task failed for it');
  t.equal(farm.sim.stats().calls['caches.create'], deleted.length * 2, 'each deleted cache created again, once');
  t.ok(farm.sim.stats().caching.explicit.hits > hitsAtDelete + 10, 'and the calls used them again');
  // Calls between the deletion and the workers learning the new names fall back (how many is timing).
  t.equal(fallbacks, refused, `one fallback per refused call (${fallbacks})`);
  await until('the caches deleted', async () => (await farmCaches(farm)).length === 0);
});

t.test('serve killed mid-run: the next owner adopts the run\'s caches, no second cache is created, none is left behind', async (t) => {
  const farm = await startTestFarm(t, {
    server: 'child',
    sim: { latencyMs: 30, explicitCacheMinTokens: 200, implicitCacheMinTokens: 1_000_000 },
    // A TTL longer than the takeover (a new serve starting, then the lease running out).
    env: { SDF_EXPLICIT_CACHE_MIN_TOKENS: '300', SDF_EXPLICIT_CACHE_TTL_S: '120', SDF_PRODUCER_LOCK_TTL_MS: '2000' },
  });
  const first = await farm.spawnServe();
  await farm.startWorker({ workerConcurrency: 4 });
  const runId = await farm.submit(cachedSpec(4));
  await until('the run\'s caches in use', async () => (await farmCaches(farm)).length === 3 && farm.sim.stats().caching.explicit.hits > 10);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  await farm.spawnServe();
  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed');
  const sim = farm.sim.stats();
  t.equal(sim.calls['caches.create'], 3, 'no cache was created twice: the new owner took over the recorded ones ');
  t.equal(sim.caching.explicit.hits, await answered(farm), 'every call used a cache, before and after the kill');
  await until('the caches deleted', async () => (await farmCaches(farm)).length === 0);
});
