import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import t from 'tap';
import { runKeys } from '../../core/keys.js';
import { runKeysInRedis } from '../../core/runs/run-retention.js';
import { startTestFarm } from '../helpers/farm.js';
import { ownRedisServer, usedMemory } from '../helpers/redis-server.js';

const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster gives confidence in numbers.';
const FACTS = ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster gives its confidence as a number.'];
const spec = (name: string, docsPerIdea: number) => ({ name, universe: UNIVERSE, keyFacts: FACTS, documents: { docTypesPerFact: 3, ideasPerType: 4, docsPerIdea } });

/** The run's keys that exist (the record key is always listed by runKeysInRedis, so check each). */
async function existingRunKeys(redis: Redis, prefix: string, runId: string): Promise<string[]> {
  const keys = await runKeysInRedis(redis, prefix, runId);
  const exists = await Promise.all(keys.map((key) => redis.exists(key)));
  return keys.filter((_, i) => exists[i] === 1).sort();
}

async function settledMemory(redis: Redis): Promise<number> {
  // Lazy frees (UNLINK) finish in a background thread; give them a moment, then read twice.
  await new Promise((r) => setTimeout(r, 300));
  await usedMemory(redis);
  return usedMemory(redis);
}

t.test('DELETE /v1/runs/:id gives back its Redis memory (within 1 MB of before it was submitted) and its files', async (t) => {
  // A Redis of the test's own: used_memory is the whole server's, and other tests share the common one.
  const own = await ownRedisServer(t);
  // The response cache is the farm's, not the run's (a DELETE leaves it; SDF_RESPONSE_CACHE_MAX_BYTES
  // bounds it): off, so what is measured is the run's own state and no warm-up answer is reused.
  const farm = await startTestFarm(t, { env: { REDIS_URL: own.url, SDF_LIMITS: '', SDF_RESPONSE_CACHE_MAX_BYTES: '0' } });
  await farm.startWorker({ workerConcurrency: 16 });

  // Warm up: the queues' own keys and event streams (capped) exist after a first run, whatever follows.
  const warm = await farm.submit(spec('warm-up', 2));
  t.equal((await farm.waitFor(warm)).state, 'completed');
  t.equal((await fetch(`${farm.apiUrl}/v1/runs/${warm}`, { method: 'DELETE' })).status, 200);

  const before = await settledMemory(own.redis);
  const runId = await farm.submit(spec('measured', 20));
  const done = await farm.waitFor(runId);
  t.equal(done.state, 'completed');
  t.ok((done.stages.documents?.accepted ?? 0) > 150, `a run with state worth measuring (${done.stages.documents?.accepted} documents)`);
  const grown = await settledMemory(own.redis);
  t.ok(grown - before > 1_000_000, `the finished run holds more than 1 MB of Redis (${grown - before} B), so the test can see a leak`);
  t.ok(existsSync(join(farm.dataDir, runId)), 'its files are on disk');

  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}`, { method: 'DELETE' });
  t.equal(res.status, 200);
  t.match(await res.json(), { id: runId, deleted: true });
  const after = await settledMemory(own.redis);
  t.comment(`used_memory: before ${before} B, finished run ${grown} B, after delete ${after} B`);
  t.ok(Math.abs(after - before) < 1_000_000, `used_memory after the delete is within 1 MB of before the submission (${after - before} B)`);
  t.same(await existingRunKeys(own.redis, farm.config.prefix, runId), [], 'no key of the run is left, its record included');
  t.notOk(existsSync(join(farm.dataDir, runId)), 'its files are gone');
  t.equal((await fetch(`${farm.apiUrl}/v1/runs/${runId}`)).status, 404, 'the run is unknown');
  t.equal((await fetch(`${farm.apiUrl}/v1/runs/${runId}`, { method: 'DELETE' })).status, 404, 'a second delete is a 404');
  const list = (await (await fetch(`${farm.apiUrl}/v1/runs`)).json()) as { runs: { id: string }[] };
  t.notOk(list.runs.some((r) => r.id === runId), 'and not listed');
});

t.test('DELETE of a running run cancels it first; nothing of it comes back', async (t) => {
  const farm = await startTestFarm(t, { sim: { latencyMs: 50 } });
  await farm.startWorker({ workerConcurrency: 8 });
  const runId = await farm.submit(spec('deleted-while-running', 20));
  await farm.waitFor(runId, ['running']);
  await new Promise((r) => setTimeout(r, 1500));
  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}`, { method: 'DELETE' });
  t.equal(res.status, 200);
  // Tasks in flight at the delete finish into nothing; the producer writes nothing more for the run.
  await new Promise((r) => setTimeout(r, 6500));
  const redis = farm.server!.runs.redis;
  t.same(await existingRunKeys(redis, farm.config.prefix, runId), [], 'no key of the run exists');
  t.notOk(existsSync(join(farm.dataDir, runId)), 'its files are gone');
});

t.test('SDF_RUN_RETENTION_S=0: a finished run keeps its record and outputs, its working state leaves Redis', async (t) => {
  const farm = await startTestFarm(t, { env: { SDF_RUN_RETENTION_S: '0' } });
  await farm.startWorker({ workerConcurrency: 8 });
  const runId = await farm.submit(spec('retained', 3));
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const redis = farm.server!.runs.redis;
  const k = runKeys(farm.config.prefix, runId);
  t.same(await existingRunKeys(redis, farm.config.prefix, runId), [k.meta, k.offsets, k.stats, k.budget].sort(), 'only the record is left: meta, counters, committed lengths, spend (its budget)');
  const after = await farm.status(runId);
  t.same(after.stages, status.stages, 'status reads the same afterwards');
  const documents = await farm.exportLines(runId, 'documents');
  t.equal(documents.length, status.stages.documents?.accepted, 'the export still has every accepted document');
});
