import type { ChildProcess } from 'node:child_process';
import t, { type Test } from 'tap';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';

/**
 * Issue 8, defect 1: a producer frozen past its lease (SIGSTOP) and thawed must neither stall its
 * runs nor write them after another producer took over. Short leases so it happens in seconds.
 */
const SHORT_LEASE = { SDF_PRODUCER_LOCK_TTL_MS: '1500' };

const SPEC = {
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
  keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
  documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 10 },
};

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every documents task committed exactly once, and the export agrees with the counters. */
async function checkOnce(t: Test, farm: TestFarm, runId: string): Promise<void> {
  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed', 'the run completes');
  const docs = status.stages.documents!;
  t.equal(docs.done, status.stages['doc-ideas']!.items * 10, 'every documents task committed exactly once');
  t.equal(docs.accepted + docs.rejected + docs.failed, docs.done);
  const documents = await farm.exportLines(runId, 'documents');
  const rejected = (await farm.exportLines(runId, 'rejected')).filter((r) => r.stage === 'documents' && !String(r.id).includes('.a'));
  const ids = [...documents, ...rejected].map((r) => String(r.id));
  t.equal(documents.length, docs.accepted, 'the export holds every accepted document');
  t.equal(new Set(ids).size, ids.length, 'no task id twice in the files');
  t.equal(ids.length, docs.done, 'no task lost');
}

async function freeze(child: ChildProcess, ms: number): Promise<void> {
  child.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGCONT');
}

t.test('a producer frozen past its lease, alone: thawed, it takes its run back and finishes it', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: SHORT_LEASE, sim: { latencyMs: 20 } });
  const serve = await farm.spawnServe();
  await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });
  const runId = await farm.submit(SPEC);
  await waitUntil(async () => ((await farm.status(runId)).stages.documents?.done ?? 0) >= 10);
  await freeze(serve, 4_000);
  await checkOnce(t, farm, runId);
  serve.kill('SIGTERM');
});

t.test('a producer frozen past its lease with a standby beside it: the standby takes over, the thawed one writes nothing', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: SHORT_LEASE, sim: { latencyMs: 20 } });
  const first = await farm.spawnServe();
  const firstUrl = farm.apiUrl;
  await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });
  const runId = await farm.submit(SPEC);
  await waitUntil(async () => ((await farm.status(runId)).stages.documents?.done ?? 0) >= 10);
  // The standby starts now, so the run is the first's.
  await farm.spawnServe();
  await freeze(first, 4_000);
  farm.apiUrl = firstUrl;
  await checkOnce(t, farm, runId);
});
