import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import t from 'tap';
import { startTestFarm } from '../helpers/farm.js';

/** Short locks so a killed process's work comes back in seconds, not a minute. */
const FAST_RECOVERY = { SDF_LOCK_DURATION_MS: '3000', SDF_STALLED_INTERVAL_MS: '2000', SDF_PRODUCER_LOCK_TTL_MS: '3000' };

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SPEC = {
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.',
  keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.'],
  documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 4 },
};

t.test('SIGKILL of a worker and of the API/producer mid-run: the run completes, nothing lost, nothing doubled', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: FAST_RECOVERY, sim: { latencyMs: 150, jitterMs: 50 } });
  let serve = await farm.spawnServe();
  const [doomed, survivor] = await Promise.all([farm.spawnWorker({ WORKER_CONCURRENCY: '16' }), farm.spawnWorker({ WORKER_CONCURRENCY: '4' })]);
  const runId = await farm.submit(SPEC);

  await waitUntil(async () => ((await farm.status(runId)).stages.documents?.done ?? 0) >= 10);
  doomed.kill('SIGKILL');
  t.match(await exited(doomed), { signal: 'SIGKILL' });

  await waitUntil(async () => ((await farm.status(runId)).stages.documents?.done ?? 0) >= 30);
  serve.kill('SIGKILL');
  await exited(serve);
  serve = await farm.spawnServe();
  const replacement = await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });

  const status = await farm.waitFor(runId, undefined, 180_000);
  t.equal(status.state, 'completed');
  const docs = status.stages.documents!;
  const ideas = status.stages['doc-ideas']!;
  t.equal(docs.done, ideas.items * 4, 'every documents task committed exactly once');
  t.equal(docs.accepted + docs.rejected + docs.failed, docs.done);
  t.equal(status.stages['doc-types']!.done, 3);
  t.equal(ideas.done, 6);

  const documents = await farm.exportLines(runId, 'documents');
  const rejected = (await farm.exportLines(runId, 'rejected')).filter((r) => r.stage === 'documents');
  t.equal(documents.length, docs.accepted, 'accepted count matches the export');
  t.equal(rejected.length, docs.rejected, 'rejected count matches the export');
  const ids = [...documents, ...rejected].map((r) => r.id);
  t.equal(new Set(ids).size, ids.length, 'no task id appears twice');
  t.equal(ids.length, docs.done, 'no task is lost');
  const hashes = documents.map((d) => createHash('sha256').update(String(d.text)).digest('hex'));
  t.equal(new Set(hashes).size, hashes.length, 'no document text appears twice');

  for (const child of [survivor, replacement]) child.kill('SIGTERM');
  for (const child of [survivor, replacement]) t.match(await exited(child), { code: 0 }, 'SIGTERM drains and exits 0');
  serve.kill('SIGTERM');
  t.match(await exited(serve), { code: 0 });
});
