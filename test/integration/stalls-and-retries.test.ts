import type { ChildProcess } from 'node:child_process';
import t, { type Test } from 'tap';
import type { RunStatus } from '../../core/runs/run-status.js';
import type { TaskResult } from '../../core/task.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';

const SPEC = {
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.',
  keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.'],
  documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 4, revise: false },
};

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every documents task committed exactly once: as an accepted document, a rejection or a dead letter. */
async function assertEachTaskOnce(t: Test, farm: TestFarm, runId: string, status: RunStatus): Promise<void> {
  const docs = status.stages.documents!;
  t.equal(docs.done, status.stages['doc-ideas']!.items * SPEC.documents.docsPerIdea, 'every documents task committed');
  t.equal(docs.accepted + docs.rejected + docs.failed, docs.done, 'each once');
  const documents = await farm.exportLines(runId, 'documents');
  const rejected = (await farm.exportLines(runId, 'rejected')).filter((r) => r.stage === 'documents');
  t.equal(documents.length, docs.accepted, 'accepted count matches the export');
  const ids = [...documents, ...rejected].map((r) => r.id);
  t.equal(new Set(ids).size, ids.length, 'no task id appears twice in the export');
}

t.test('a task that exceeds the stall limit is dead-lettered through the failed path, and the run finishes', async (t) => {
  // One stall is the limit; locks of 2 s; the reconciler far away, so only the stage workers'
  // handling of BullMQ's stalled-then-failed jobs can finish the run.
  const env = { SDF_MAX_STALLED_COUNT: '0', SDF_LOCK_DURATION_MS: '2000', SDF_STALLED_INTERVAL_MS: '1000', SDF_RECONCILE_INTERVAL_MS: '600000' };
  const farm = await startTestFarm(t, { env, sim: { latencyMs: 400, jitterMs: 100 } });
  const frozen: ChildProcess = await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });
  const runId = await farm.submit(SPEC);
  await waitUntil(async () => ((await farm.status(runId)).stages.documents?.active ?? 0) >= 4);
  frozen.kill('SIGSTOP');
  t.teardown(() => void frozen.kill('SIGCONT'));
  const survivor = await farm.spawnWorker({ WORKER_CONCURRENCY: '4' });

  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed', 'the run completes with a worker frozen holding tasks');
  t.ok(status.deadLetters > 0, `the frozen worker's tasks were dead-lettered (${status.deadLetters})`);
  const letters = (await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/failed`)).json()) as { failed: { error: string }[] };
  t.ok(letters.failed.length > 0 && letters.failed.every((l) => /stall/i.test(l.error)), `each letter says it stalled: ${letters.failed[0]?.error}`);
  await assertEachTaskOnce(t, farm, runId, status);

  // Thawed, the frozen worker finishes its calls and publishes results the run no longer wants.
  frozen.kill('SIGCONT');
  await new Promise((r) => setTimeout(r, 3000));
  const later = await farm.status(runId);
  t.same(later.stages, status.stages, 'late results from the thawed worker change nothing');
  survivor.kill('SIGTERM');
  frozen.kill('SIGTERM');
});

t.test('two concurrent retry-failed calls re-drive each letter once, and every re-driven task is done', async (t) => {
  const farm = await startTestFarm(t, { env: { SDF_TASK_ATTEMPTS: '1', LOG_LEVEL: 'error' }, sim: { errorRate5xx: 0.25, seed: 11 } });
  await farm.startWorker({ workerConcurrency: 16 });
  const runId = await farm.submit(SPEC);
  const first = await farm.waitFor(runId);
  t.equal(first.state, 'completed');
  t.ok(first.deadLetters >= 5, `some tasks were dead-lettered (${first.deadLetters})`);

  farm.sim.options.errorRate5xx = 0;
  const retry = () => fetch(`${farm.apiUrl}/v1/runs/${runId}/retry-failed`, { method: 'POST' }).then(async (r) => ({ status: r.status, body: (await r.json()) as { retried: number } }));
  const [a, b] = await Promise.all([retry(), retry()]);
  t.equal(a.status, 202);
  t.equal(b.status, 202);
  t.equal(a.body.retried + b.body.retried, first.deadLetters, `each letter re-driven by one call (${a.body.retried} + ${b.body.retried})`);
  t.equal((await farm.status(runId)).state, 'running', 'the run is running again as soon as retry-failed answers');

  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  t.equal(status.deadLetters, 0, 'no letter is left: no re-driven task was skipped as belonging to a finished run');
  t.equal(status.stages.documents!.failed, 0);
  await assertEachTaskOnce(t, farm, runId, status);
});

/** Tasks whose result cannot be published: every third documents task. */
const unpublishable = (result: TaskResult) => result.stage === 'documents' && result.index % 3 === 0;

/**
 * A run whose worker cannot publish the results of some tasks: `fails(result)` says which publishes
 * fail. Returns the run's final status and the tasks whose publish failed.
 */
async function runWithFailingPublish(t: Test, reconcileIntervalMs: number, fails: (result: TaskResult) => boolean) {
  const farm = await startTestFarm(t, { env: { LOG_LEVEL: 'fatal', SDF_TASK_ATTEMPTS: '2', SDF_RECONCILE_INTERVAL_MS: String(reconcileIntervalMs) } });
  const lost = new Set<number>();
  await farm.startWorker({ workerConcurrency: 8 }, {
    wrapPublish: (publish) => async (result) => {
      if (fails(result)) {
        lost.add(result.index);
        throw new Error('Redis write failed');
      }
      await publish(result);
    },
  });
  const runId = await farm.submit(SPEC);
  const status = await farm.waitFor(runId, undefined, 60_000);
  t.equal(status.state, 'completed');
  t.ok(lost.size >= 5, `several tasks could not publish (${lost.size})`);
  t.equal(status.deadLetters, lost.size, 'each of them is a dead letter');
  return { farm, runId, status, lost };
}

t.test('a result whose publish fails on the last attempt: the failed-job report dead-letters the task', async (t) => {
  // The processor's publish fails; the report of the job's final failure gets through. No reconciler.
  const { farm, runId, status } = await runWithFailingPublish(t, 600_000, (result) => unpublishable(result) && !result.error?.startsWith('gave up'));
  await assertEachTaskOnce(t, farm, runId, status);
});

t.test('a result that can never be published, nor its failure: the reconciler finds the failed job and dead-letters it', async (t) => {
  const { farm, runId, status, lost } = await runWithFailingPublish(t, 1000, unpublishable);
  const metrics = await (await fetch(`${farm.apiUrl}/metrics`)).text();
  const repairs = Number(/^sdf_reconciler_repairs_total\{[^}]*kind="failed-job"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  t.equal(repairs, lost.size, 'each repair counted in sdf_reconciler_repairs_total{kind="failed-job"}');
  await assertEachTaskOnce(t, farm, runId, status);
});
