import { Queue } from 'bullmq';
import t from 'tap';
import { STAGES } from '../../core/stages.js';
import { createRedis } from '../../core/redis.js';
import { startTestFarm } from '../helpers/farm.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

async function documentsCompleted(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^sdf_tasks_completed_total\{[^}]*stage="documents"[^}]*\} (\d+)/gm)) total += Number(match[1]);
  return total;
}

const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.';

t.test('two worker processes share one run; each output appears once', async (t) => {
  const farm = await startTestFarm(t, { sim: { latencyMs: 20 } });
  const [a, b] = await Promise.all([farm.spawnWorker({ WORKER_CONCURRENCY: '4' }), farm.spawnWorker({ WORKER_CONCURRENCY: '4' })]);
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.'],
    documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 },
  });
  const status = await farm.waitFor(runId, undefined, 180_000);
  t.equal(status.state, 'completed');
  const documents = await farm.exportLines(runId, 'documents');
  t.equal(documents.length, status.stages.documents!.accepted);
  t.equal(new Set(documents.map((d) => d.id)).size, documents.length);

  // Which process ran the documents tasks: each worker's own counter (completed jobs are not kept).
  const ran = await Promise.all([a, b].map((w) => documentsCompleted(w.metricsUrl)));
  t.ok(ran.every((n) => n > 0), `both worker processes did work (${ran.join(' + ')})`);
  t.equal(ran[0]! + ran[1]!, status.stages.documents!.done, 'together they ran every documents task once');
});

t.test('cancel stops a run: state cancelled, its waiting tasks removed, no more output', async (t) => {
  const farm = await startTestFarm(t, { sim: { latencyMs: 50 } });
  await farm.startWorker({ workerConcurrency: 2 });
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    documents: { docTypesPerFact: 3, ideasPerType: 4, docsPerIdea: 5 },
  });
  for (;;) {
    const s = await farm.status(runId);
    if ((s.stages.documents?.done ?? 0) >= 3) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}/cancel`, { method: 'POST' });
  t.match(await res.json(), { state: 'cancelled', cancelled: true });
  const atCancel = (await farm.exportLines(runId, 'documents')).length;
  await new Promise((r) => setTimeout(r, 1500));
  const status = await farm.status(runId);
  t.equal(status.state, 'cancelled');
  t.equal((await farm.exportLines(runId, 'documents')).length, atCancel, 'nothing is written after the cancel');
  const redis = createRedis(TEST_REDIS_URL);
  for (const stage of STAGES) {
    const queue = new Queue(stage, { connection: redis, prefix: farm.config.prefix });
    const waiting = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    t.equal(waiting.filter((j) => j.data.runId === runId).length, 0, `no waiting ${stage} tasks left`);
    await queue.close();
  }
  redis.disconnect();
  const again = await fetch(`${farm.apiUrl}/v1/runs/${runId}/cancel`, { method: 'POST' });
  t.match(await again.json(), { state: 'cancelled', cancelled: false }, 'cancelling twice is harmless');
});
