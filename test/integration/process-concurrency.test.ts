import t from 'tap';
import { createRedis } from '../../core/redis.js';
import { STAGES } from '../../core/stages.js';
import { startTestFarm } from '../helpers/farm.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

const UNIVERSE = [
  'Aster is an AI assistant made by the Halden Institute.',
  '- Aster says plainly when it does not know something.',
  '- Aster disagrees with users when the evidence warrants it, politely and with reasons.',
  '- Aster keeps answers short and never pads them with reassurance.',
].join('\n');

t.test('WORKER_CONCURRENCY is the process total: never more jobs active, across every stage queue, nor calls in flight', async (t) => {
  const N = 3;
  const farm = await startTestFarm(t, { sim: { latencyMs: 60 } });
  const redis = createRedis(TEST_REDIS_URL);
  t.teardown(() => redis.disconnect());
  const prefix = farm.config.prefix;
  await farm.startWorker({ workerConcurrency: N });
  const D = 2;
  const spec = (name: string) => ({ name, universe: UNIVERSE, documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: D, revise: true }, chats: { promptsPerTrait: 4 } });
  const first = await farm.submit(spec('first'));
  // A second run once the first has reached its last stages: its first stages then wait while the
  // first run's later ones have work too, so most stage queues have waiting work at once.
  while (((await farm.status(first)).stages.documents?.done ?? 0) < 2) await new Promise((r) => setTimeout(r, 20));
  const second = await farm.submit(spec('second'));

  // Sampled in one round trip: BullMQ keeps a queue's active jobs in `<prefix>:<queue>:active`
  // and its waiting ones in `:wait`.
  let peakActive = 0;
  let peakInFlight = 0;
  let mostStagesWaiting = 0;
  let samples = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const pipeline = redis.pipeline();
      for (const stage of STAGES) pipeline.llen(`${prefix}:${stage}:active`).llen(`${prefix}:${stage}:wait`);
      const counts = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n));
      const active = counts.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b, 0);
      const waitingStages = counts.filter((n, i) => i % 2 === 1 && n > 0).length;
      peakActive = Math.max(peakActive, active);
      peakInFlight = Math.max(peakInFlight, farm.sim.stats().inFlight);
      mostStagesWaiting = Math.max(mostStagesWaiting, waitingStages);
      samples++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const statuses = [await farm.waitFor(first, undefined, 180_000), await farm.waitFor(second, undefined, 180_000)];
  done = true;
  await sampling;

  t.ok(mostStagesWaiting >= 4, `several stages had waiting work at once (up to ${mostStagesWaiting}; ${samples} samples)`);
  t.ok(peakActive <= N, `jobs active across all stage queues never above ${N} (peak ${peakActive})`);
  t.ok(farm.sim.stats().peakInFlight <= N, `model calls in flight never above ${N} (simulator's peak ${farm.sim.stats().peakInFlight}, sampled ${peakInFlight})`);
  t.equal(farm.sim.stats().peakInFlight, N, 'and the whole budget was used');

  for (const [i, runId] of [first, second].entries()) {
    const status = statuses[i]!;
    t.equal(status.state, 'completed', `run ${i + 1} completed`);
    const s = status.stages;
    t.equal(s.documents!.done, s['doc-ideas']!.items * D, 'every documents task ran');
    t.equal(s.documents!.accepted + s.documents!.rejected + s.documents!.failed, s.documents!.done, 'each once');
    t.equal(s.revise!.done, s.documents!.accepted, 'every accepted document was revised once');
    const documents = await farm.exportLines(runId, 'documents');
    t.equal(documents.length, s.revise!.accepted, 'the export holds every accepted revision (a revision the filters reject leaves its draft out)');
    t.equal(new Set(documents.map((d) => d.id)).size, documents.length, 'no document twice');
    const chats = await farm.exportLines(runId, 'chats');
    t.ok(chats.length > 0, 'the chat pipeline ran too');
    t.equal(new Set(chats.map((d) => d.id)).size, chats.length, 'no chat twice');
  }
});
