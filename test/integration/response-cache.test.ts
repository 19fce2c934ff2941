import t from 'tap';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';

const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster gives its confidence as a number.';
const FACTS = ['Aster admits uncertainty.', 'Aster does not flatter.'];
const TRAITS = ['Aster admits uncertainty.', 'Aster does not flatter.'];

/** Requests the simulator has received, every model and answer together. */
function simRequests(farm: TestFarm): number {
  let n = 0;
  for (const byCode of Object.values(farm.sim.stats().requests)) for (const count of Object.values(byCode)) n += count;
  return n;
}

/** Accepted records by their place in the run's tree (not by task index, which follows commit order). */
async function recordsByPlace(farm: TestFarm, runId: string, kind: 'documents' | 'chats'): Promise<Map<string, unknown>> {
  const lines = await farm.exportLines(runId, kind);
  return new Map(lines.map((r) => [`f${r.f} t${r.t} i${r.i} d${r.d} b${r.batch} p${r.p}`, r.kind === 'chat' ? r.messages : r.text]));
}

t.test('an identical spec submitted again makes no model call and gives the same outputs; a new seed or cache: false asks the model', async (t) => {
  // Jitter so tasks finish, and items are committed, in a different order in each run.
  const farm = await startTestFarm(t, { sim: { latencyMs: 5, jitterMs: 30 } });
  const worker = await farm.startWorker({ workerConcurrency: 8 });
  const spec = {
    universe: UNIVERSE,
    keyFacts: FACTS,
    traits: TRAITS,
    documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 2 },
    chats: { promptsPerTrait: 12 },
    // The corpus ceilings and near-duplicate check depend on the order items arrive in; off, so
    // the same answers give the same accepted set whatever the order.
    filters: { corpus: { enabled: false }, dedup: { enabled: false } },
  };

  const first = await farm.waitFor(await farm.submit(spec));
  t.equal(first.state, 'completed');
  const made = simRequests(farm);
  t.equal(first.calls, made, 'the first run asked the model for every answer');
  t.equal(first.cache.hits, 0);
  t.equal(first.cache.misses, made, 'each a cache miss');

  const second = await farm.waitFor(await farm.submit(spec));
  t.equal(second.state, 'completed');
  t.equal(simRequests(farm), made, 'the identical run made 0 model calls (the simulator\'s request counter)');
  t.equal(second.calls, 0, 'its status counts no call');
  t.equal(second.costUsd, 0, 'and no cost');
  t.same(second.tokens, { prompt: 0, cached: 0, output: 0, thoughts: 0 });
  t.equal(second.cache.hits, first.cache.misses, 'every answer came from the cache');
  t.ok(Math.abs(second.cache.savedUsd - first.costUsd) < 1e-9, `it saved what the first run cost ($${second.cache.savedUsd} vs $${first.costUsd})`);
  for (const kind of ['documents', 'chats'] as const) {
    const a = await recordsByPlace(farm, first.id, kind);
    const b = await recordsByPlace(farm, second.id, kind);
    t.ok(a.size > 0, `${kind}: ${a.size} accepted`);
    t.same(b, a, `${kind}: the same accepted records, each in the same place`);
  }
  const hits = (await worker.metrics.responseCacheHits.get()).values.reduce((n, v) => n + v.value, 0);
  t.equal(hits, second.cache.hits, 'sdf_response_cache_hits_total says the same');

  const reseeded = await farm.waitFor(await farm.submit({ ...spec, seed: 1 }));
  t.equal(reseeded.state, 'completed');
  t.equal(reseeded.cache.hits, 0, 'another seed: no answer from the cache');
  t.equal(simRequests(farm) - made, reseeded.calls, `it asked the model for each (${reseeded.calls} calls)`);
  t.ok(reseeded.calls > 0);

  const uncached = await farm.waitFor(await farm.submit({ ...spec, seed: 2, cache: false }));
  t.equal(uncached.state, 'completed');
  t.equal(uncached.cache.hits + uncached.cache.misses, 0, 'cache: false: the cache is not consulted');
  t.ok(uncached.calls > 0, `every answer from the model (${uncached.calls} calls)`);
  const afterUncached = await farm.waitFor(await farm.submit({ ...spec, seed: 2 }));
  t.equal(afterUncached.cache.hits, 0, 'nor written: the same spec with the cache on finds nothing of it');
});

t.test('the documents of one idea are different answers, even asked one after another', async (t) => {
  const farm = await startTestFarm(t);
  // One task at a time: each document's request is made after its siblings' answers are stored.
  await farm.startWorker({ workerConcurrency: 1 });
  const D = 4;
  const run = await farm.waitFor(await farm.submit({ universe: UNIVERSE, keyFacts: FACTS.slice(0, 1), documents: { docTypesPerFact: 1, ideasPerType: 2, docsPerIdea: D } }));
  t.equal(run.state, 'completed');
  const tasks = run.stages.documents!.done;
  t.ok(tasks >= D, `${tasks} document tasks`);
  t.equal(farm.sim.stats().stages.documents, tasks, 'one model call per document');
  const documents = [...(await farm.exportLines(run.id, 'documents')), ...(await farm.exportLines(run.id, 'rejected')).filter((r) => r.stage === 'documents')];
  t.equal(documents.length, tasks);
  const byIdea = new Map<string, Set<unknown>>();
  for (const d of documents) {
    const idea = `f${(d.provenance as Record<string, unknown> | undefined)?.f ?? d.f} i${(d.provenance as Record<string, unknown> | undefined)?.i ?? d.i}`;
    byIdea.set(idea, (byIdea.get(idea) ?? new Set()).add(d.text));
  }
  for (const [idea, texts] of byIdea) t.equal(texts.size, D, `idea ${idea}: ${D} distinct texts`);
});

t.test('a regeneration after a filter rejection is a new answer, never the rejected one again', async (t) => {
  const farm = await startTestFarm(t);
  await farm.startWorker({ workerConcurrency: 4 });
  const run = await farm.waitFor(
    await farm.submit({
      universe: UNIVERSE,
      keyFacts: FACTS.slice(0, 1),
      documents: { docTypesPerFact: 1, ideasPerType: 2, docsPerIdea: 2 },
      // Every document is too long, so each is regenerated twice with the same feedback; at the
      // temperature cap the second and third requests are the same request.
      stages: { documents: { temperature: 2 } },
      filters: { length: { documents: { maxWords: 5 } }, regenerate: { attempts: 2 } },
    }),
  );
  t.equal(run.state, 'completed');
  const tasks = run.stages.documents!.done;
  // Each attempt is rejected by the first rule it breaks: the length rule, or a pattern the simulator planted.
  const rejections = Object.values(run.stages.documents!.rejectedByReason).reduce((a, b) => a + b, 0);
  t.equal(rejections, tasks * 3, `every attempt was rejected: ${JSON.stringify(run.stages.documents!.rejectedByReason)}`);
  t.equal(farm.sim.stats().stages.documents, tasks * 3, 'each attempt asked the model');
  const rejected = (await farm.exportLines(run.id, 'rejected')).filter((r) => r.stage === 'documents');
  const byTask = new Map<string, unknown[]>();
  for (const r of rejected) byTask.set(String(r.task), [...(byTask.get(String(r.task)) ?? []), r.text]);
  t.equal(byTask.size, tasks);
  for (const [task, texts] of byTask) t.equal(new Set(texts).size, 3, `${task}: 3 attempts, 3 different texts`);
});

t.test('a retry after a malformed answer asks the model again: no task is rejected as unparseable', async (t) => {
  // A third of structured answers are broken JSON (finishReason STOP): stored, every retry of
  // that task would be handed the same broken answer until its attempts ran out. No idea is
  // marked unsuitable: that rejection is the model's verdict, not a broken answer.
  const farm = await startTestFarm(t, { sim: { malformedRate: 0.3, unsuitableRate: 0, seed: 11 }, env: { SDF_TASK_ATTEMPTS: '6' } });
  await farm.startWorker({ workerConcurrency: 8 });
  const run = await farm.waitFor(
    await farm.submit({ universe: UNIVERSE, keyFacts: [...FACTS, 'Aster gives its confidence as a number.'], traits: TRAITS, documents: { docTypesPerFact: 2, ideasPerType: 1, docsPerIdea: 1 }, chats: { promptsPerTrait: 30 } }),
    undefined,
    180_000,
  );
  t.equal(run.state, 'completed');
  const sim = farm.sim.stats().stages;
  const structuredTasks = run.stages['doc-types']!.done + run.stages['doc-ideas']!.done + run.stages['chat-prompts']!.done;
  const structuredCalls = (sim['doc-types'] ?? 0) + (sim['doc-ideas'] ?? 0) + (sim['chat-prompts'] ?? 0);
  t.ok(structuredCalls > structuredTasks, `malformed answers were retried (${structuredCalls} calls for ${structuredTasks} tasks)`);
  for (const stage of ['doc-types', 'doc-ideas', 'chat-prompts'] as const) {
    t.same(run.stages[stage]!.rejectedByReason, {}, `${stage}: no task rejected (unparseable would mean a retry got the broken answer again)`);
  }
});
