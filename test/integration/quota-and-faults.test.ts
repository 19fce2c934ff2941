import t from 'tap';
import { readSimCounters } from '../../bench/sim-metrics.js';
import { startTestFarm } from '../helpers/farm.js';

const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.';

t.test('with 5% 429, 5% 5xx, 1% timeouts, 1% malformed, 1% SAFETY every task ends accounted for', async (t) => {
  const farm = await startTestFarm(t, {
    sim: { errorRate429: 0.05, errorRate5xx: 0.05, timeoutRate: 0.01, malformedRate: 0.01, safetyRate: 0.01, seed: 11 },
    env: { SDF_TASK_ATTEMPTS: '4' },
  });
  await farm.startWorker({ requestTimeoutMs: 1500, workerConcurrency: 16 });
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.'],
    traits: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    documents: { docTypesPerFact: 2, ideasPerType: 4, docsPerIdea: 5 },
    chats: { promptsPerTrait: 20 },
  });
  const status = await farm.waitFor(runId, undefined, 240_000);
  t.equal(status.state, 'completed', 'nothing stuck');
  for (const [stage, s] of Object.entries(status.stages)) {
    t.equal(s.accepted + s.rejected + s.failed, s.done, `${stage}: accepted + rejected + failed = done`);
    t.equal(s.queued + s.active, 0, `${stage}: nothing left queued or running`);
  }
  const docs = status.stages.documents!;
  t.equal(docs.done, status.stages['doc-ideas']!.items * 5, 'every documents task ended');
  const rejected = await farm.exportLines(runId, 'rejected');
  t.equal(rejected.filter((r) => r.stage === 'documents').length, docs.rejected);
  t.equal((await farm.exportLines(runId, 'documents')).length, docs.accepted);
  const safetyRejections = Object.values(status.stages).reduce((sum, stage) => sum + (stage.rejectedByReason.safety ?? 0), 0);
  t.equal(safetyRejections, farm.sim.stats().finishReasons.SAFETY ?? 0, 'every SAFETY answer ended its task as a rejection with reason safety');
  const failed = await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/failed`)).json();
  t.equal((failed as { failed: unknown[] }).failed.length, status.deadLetters, 'the dead-letter view lists every failed task');
  const sim = await readSimCounters(farm.simUrl);
  t.ok((sim.byCode['429'] ?? 0) > 0 && (sim.byCode['500'] ?? 0) + (sim.byCode['503'] ?? 0) > 0 && (sim.byCode.timeout ?? 0) > 0, `the faults happened: ${JSON.stringify(sim.byCode)}`);
});

t.test('dead-lettered tasks are listed with their error and can be re-driven to completion', async (t) => {
  const farm = await startTestFarm(t, { sim: { errorRate5xx: 1 }, env: { SDF_TASK_ATTEMPTS: '2' } });
  const worker = await farm.startWorker();
  const runId = await farm.submit({ universe: UNIVERSE, traits: ['Aster admits uncertainty.'], chats: { promptsPerTrait: 3 } });
  const failedRun = await farm.waitFor(runId, undefined, 60_000);
  t.equal(failedRun.state, 'completed');
  t.equal(failedRun.deadLetters, 1, 'the chat-prompts task failed every attempt');
  const { failed } = (await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/failed`)).json()) as { failed: { stage: string; error: string }[] };
  t.match(failed, [{ stage: 'chat-prompts', error: /ApiError/ }]);

  // The provider recovers; the dead letters are re-driven.
  await worker.close(1000);
  farm.sim.options.errorRate5xx = 0;
  await farm.startWorker();
  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}/retry-failed`, { method: 'POST' });
  t.match(await res.json(), { retried: 1 });
  const status = await farm.waitFor(runId, ['completed'], 60_000);
  t.equal(status.deadLetters, 0);
  t.equal(status.stages['chat-prompts']!.accepted, 1);
  t.equal(status.stages['chat-responses']!.done, 3);
  t.equal((await farm.exportLines(runId, 'chats')).length, status.stages['chat-responses']!.accepted);
});

/**
 * Issue 8, defects 3 and 11. The cap must bind: 16 calls of about 1 s in flight ask for 16 a second,
 * the cap allows under 10. Time is scaled down sixfold (100 requests in a 10 s quota window is the
 * issue's 600 RPM) so the cap binds for two windows in a short test; the farm's margin over the
 * provider's window stays a whole second, as in production, because the delay between a grant in
 * Redis and the request's arrival does not scale down (with 200 ms, a loaded machine overfilled a
 * window). RPM and TPM are both set, and the simulator counts tokens its own way, so every grant is
 * settled with a count that differs from the farm's estimate. A count over the whole run cannot
 * tell full throughput from half; the fullest window can: it must hold close to the cap, never more.
 */
t.test('2 worker processes, 16 calls of ~1 s in flight, RPM and TPM set: the fullest quota window holds ≥ 90% of the cap and never more', async (t) => {
  const MODEL = 'gemini-2.5-flash';
  const CAP = 100;
  const WINDOW_MS = 10_000;
  const LIMITER_WINDOW_MS = WINDOW_MS + 1000;
  const TPM = 400_000;
  const farm = await startTestFarm(t, {
    sim: { rpm: CAP, tpm: TPM, quotaWindowMs: WINDOW_MS, latencyMs: 900, jitterMs: 200, seed: 13 },
    env: { SDF_LIMITER_WINDOW_MS: String(LIMITER_WINDOW_MS) },
  });
  await Promise.all([1, 2].map(() => farm.spawnWorker({ WORKER_CONCURRENCY: '8' })));
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.'],
    documents: { docTypesPerFact: 2, ideasPerType: 4, docsPerIdea: 9 },
    limits: { [MODEL]: { rpm: CAP, tpm: TPM } },
  });
  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed');
  t.equal(status.stages.documents!.done, status.stages['doc-ideas']!.items * 9, 'every document was written');

  const peak = farm.sim.stats().quota[MODEL]!;
  const sim = await readSimCounters(farm.simUrl);
  const total = Object.values(sim.byCode).reduce((a, b) => a + b, 0);
  t.comment(`fullest ${WINDOW_MS} ms window: ${peak.requests} requests (${Math.round((100 * peak.requests) / CAP)}% of the cap of ${CAP}); ${total} calls in all`);
  // Half again the cap: the run outlasts the first window at the cap, into the steady state where expiring grants pace new ones.
  t.ok(total > 1.5 * CAP, `the run was long enough for the cap to bind (${total} calls > ${1.5 * CAP})`);
  t.ok(peak.requests >= 0.9 * CAP, `the fullest window held ${peak.requests} requests, at least 90% of the cap (${CAP})`);
  t.ok(peak.requests <= CAP, `no window held more than the cap (${peak.requests} ≤ ${CAP})`);
  const limited = sim.byCode['429'] ?? 0;
  t.ok(limited / total <= 0.001, `${limited} of ${total} calls answered 429`);
});
