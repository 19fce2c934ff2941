import t from 'tap';
import { readSimCounters } from '../../bench/sim-metrics.js';
import { startTestFarm } from '../helpers/farm.js';

const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.';
const FACTS = ['Aster admits uncertainty.', 'Aster does not flatter.'];

t.test('every call is counted: attempts that failed and were retried reach calls, tokens and cost', async (t) => {
  const farm = await startTestFarm(t, { sim: { errorRate5xx: 0.15, errorRate429: 0.05, seed: 5 }, env: { SDF_TASK_ATTEMPTS: '6' } });
  await farm.startWorker({ workerConcurrency: 8 });
  const runId = await farm.submit({ universe: UNIVERSE, keyFacts: FACTS, documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 } });
  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed');
  const sim = await readSimCounters(farm.simUrl);
  const made = Object.values(sim.byCode).reduce((a, b) => a + b, 0);
  const failed = made - (sim.byCode['200'] ?? 0);
  t.ok(failed > 0, `some calls failed (${JSON.stringify(sim.byCode)})`);
  t.equal(status.calls, made, 'the run counts every request the model server answered, failed ones too');
  t.equal(status.tokens.prompt, sim.promptTokens, 'every prompt token the server counted is in the run');
  const metrics = await (await fetch(`${farm.apiUrl}/metrics`)).text();
  t.ok(metrics.length > 0);
});

t.test('a model with no price is counted as unpriced, in status and metrics, never as free', async (t) => {
  const farm = await startTestFarm(t);
  const worker = await farm.startWorker({ workerConcurrency: 4 });
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: FACTS,
    documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 2 },
    stages: { documents: { model: 'gemini-experimental-unpriced' } },
  });
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const documentCalls = status.stages.documents?.done ?? 0;
  t.ok(documentCalls > 0, `the documents stage ran on the unpriced model: ${JSON.stringify(status.stages)}`);
  t.ok(status.unpricedCalls >= documentCalls, `unpriced calls counted (${status.unpricedCalls})`);
  t.same(status.unpricedModels, ['gemini-experimental-unpriced']);
  t.ok(status.costUsd > 0, 'the priced stages still have a cost');
  const unpriced = (await worker.metrics.llmUnpricedCalls.get()).values.find((v) => v.labels.model === 'gemini-experimental-unpriced');
  t.equal(unpriced?.value, status.unpricedCalls, 'sdf_llm_unpriced_calls_total says the same');
});

t.test('pattern audits still running when the last task is done are waited for: their calls are the run\'s', async (t) => {
  const farm = await startTestFarm(t, { sim: { latencyMs: 60 } });
  await farm.startWorker({ workerConcurrency: 8 });
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: FACTS,
    documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 5 },
    // An audit every 10 accepted documents, several calls each, one audit at a time: they fall
    // behind the documents, so some are still queued when the last document is committed.
    filters: { audit: { enabled: true, every: 10, sampleSize: 10 } },
  });
  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed');
  const sim = await readSimCounters(farm.simUrl);
  const made = Object.values(sim.byCode).reduce((a, b) => a + b, 0);
  t.equal(status.calls, made, `every request the model server answered, the audits' included, is counted in the run (${made})`);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await readSimCounters(farm.simUrl)).byCode['200'], sim.byCode['200'], 'no audit call is made after the run completed');
});
