import t, { type Test } from 'tap';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';
import type { FarmConfig } from '../../core/config.js';
import { PriceTable } from '../../core/cost/price-table.js';
import { createGeminiClient } from '../../core/gemini/create-gemini-client.js';

const UNIVERSE = [
  'Aster is an AI assistant made by the Halden Institute.',
  '- Aster says plainly when it does not know something.',
  '- Aster disagrees with users when the evidence warrants it, politely and with reasons.',
  '- Aster keeps answers short and never pads them with reassurance.',
].join('\n');

const KEY_FACTS = ['Aster admits uncertainty.', 'Aster does not flatter.'];

/** Batch mode scaled down in time: batches fill for 300 ms, are polled every 50–400 ms; tasks look again every 5 s unless woken. */
const FAST_BATCHES: Partial<FarmConfig> = { batchMaxAgeMs: 300, batchPollMinMs: 50, batchPollMaxMs: 400, batchRecheckMs: 5_000 };

function spec(overrides: Record<string, unknown> = {}) {
  return { universe: UNIVERSE, keyFacts: KEY_FACTS, documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 }, stages: { documents: { mode: 'batch' } }, ...overrides };
}

/** Every documents task committed exactly once, the export holding each accepted document once. */
async function assertAccountedFor(t: Test, farm: TestFarm, runId: string) {
  const status = await farm.waitFor(runId, ['completed', 'cancelled', 'failed']);
  t.equal(status.state, 'completed');
  const docs = status.stages.documents!;
  const ideas = status.stages['doc-ideas']!.items;
  t.equal(docs.done, ideas * 3, 'one documents task per suitable idea and document slot');
  t.equal(docs.accepted + docs.rejected + docs.failed, docs.done, 'every task has one outcome');
  t.equal(docs.failed, 0, 'no task failed: waiting for a batch spends no attempt');
  const exported = await farm.exportLines(runId, 'documents');
  t.equal(exported.length, docs.accepted, 'export count = accepted');
  t.equal(new Set(exported.map((d) => d.id)).size, exported.length, 'each document exported once');
  return status;
}

/** Requests the simulator answered inside batches, by HTTP-like code, over every model. */
function batchAnswered(farm: TestFarm): Record<string, number> {
  const out: Record<string, number> = {};
  for (const codes of Object.values(farm.sim.stats().batch.requests)) for (const [code, n] of Object.entries(codes)) out[code] = (out[code] ?? 0) + n;
  return out;
}

t.test('a run whose documents stage is in batch mode completes through inlined batches: every task once, no attempt spent waiting', async (t) => {
  // Batches take 4 s: longer than a task's 3 attempts with their backoff would last, had waiting cost attempts.
  // Tasks would look again only after 10 minutes: they finish because the owner wakes them.
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 4_000 }, config: { ...FAST_BATCHES, batchRecheckMs: 600_000 } });
  await farm.startWorker();
  const runId = await farm.submit(spec());
  const status = await assertAccountedFor(t, farm, runId);
  const sim = farm.sim.stats();
  const documentCalls = sim.stages.documents ?? 0;
  t.same(batchAnswered(farm), { '200': documentCalls }, 'every documents call was answered inside a batch, none online');
  t.equal(sim.batch.created, status.batch!.batches.succeeded, 'every batch the simulator made succeeded and was consumed once');
  t.match(status.batch, { requests: { pending: 0, inBatches: 0, answered: documentCalls, failed: 0, online: 0 } });
  t.equal(sim.calls['files.upload'] ?? 0, 0, 'small batches go inline');
  const metrics = await farm.server!.metrics.registry.metrics();
  t.match(metrics, new RegExp(`sdf_batches_submitted_total\\{model="gemini-2.5-flash",input="inline",component="serve"\\} ${sim.batch.created}\\n`), 'batches submitted, in Prometheus');
  t.match(metrics, new RegExp(`sdf_batches_completed_total\\{model="gemini-2.5-flash",state="succeeded",component="serve"\\} ${sim.batch.created}\\n`), 'batches completed, by final state');
  t.match(metrics, new RegExp(`sdf_batch_requests_total\\{model="gemini-2.5-flash",outcome="answered",component="serve"\\} ${documentCalls}\\n`), 'requests by outcome');
});

t.test('a run all in batch mode, its batches too large to inline: uploaded JSONL files in, results files out, every call priced at the batch price', async (t) => {
  // The inline limit scaled down so every batch goes as a file; implicit caching off so the price is plain.
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 300, implicitCacheMinTokens: 1e9 }, config: { ...FAST_BATCHES, batchInlineMaxBytes: 2_000 } });
  await farm.startWorker();
  const runId = await farm.submit(spec({ mode: 'batch', stages: undefined }));
  const status = await assertAccountedFor(t, farm, runId);
  const sim = farm.sim.stats();
  t.same(sim.requests, {}, 'not one online model call: every stage went through batches');
  t.ok(sim.calls['files.upload']! >= 3, `every batch's input was uploaded (${sim.calls['files.upload']} uploads)`);
  t.equal(sim.calls['files.upload'], sim.batch.created, 'one upload per batch');
  t.equal(sim.calls['files.download'], sim.batch.created, 'one results file downloaded per batch');
  const calls = Object.values(batchAnswered(farm)).reduce((a, b) => a + b, 0);
  t.equal(status.calls, calls, 'every batch answer counted once as a call');
  const tokens = { promptTokens: status.tokens.prompt, outputTokens: status.tokens.output, thoughtsTokens: status.tokens.thoughts };
  const prices = new PriceTable();
  t.ok(status.costUsd > 0);
  t.ok(Math.abs(status.costUsd - prices.costOf('gemini-2.5-flash', tokens, { batch: true })!) < 1e-9, `cost ${status.costUsd} is the batch price of the tokens`);
  t.ok(Math.abs(status.costUsd * 2 - prices.costOf('gemini-2.5-flash', tokens)!) < 1e-9, 'half the online price');
});

t.test('requests that fail inside a batch run online at once; the run still completes with every task once', async (t) => {
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 300, batchRequestErrorRate: 0.25 }, config: FAST_BATCHES });
  await farm.startWorker();
  const runId = await farm.submit(spec());
  const status = await assertAccountedFor(t, farm, runId);
  const failed = batchAnswered(farm)['500'] ?? 0;
  t.ok(failed >= 3, `a quarter of the batch requests failed (${failed})`);
  t.match(status.batch!.requests, { failed, online: failed, pending: 0, inBatches: 0 }, 'each failed request was re-driven online once');
  t.equal(status.stages.documents!.failed, 0, 'no task failed');
  const online = Object.values(farm.sim.stats().requests['gemini-2.5-flash'] ?? {}).reduce((a, b) => a + b, 0);
  const upstream = (farm.sim.stats().stages['doc-types'] ?? 0) + (farm.sim.stats().stages['doc-ideas'] ?? 0);
  t.equal(online, upstream + failed, 'online calls: the online stages, plus one per failed batch request');
  t.match(await farm.server!.metrics.registry.metrics(), new RegExp(`sdf_batch_requests_total\\{model="gemini-2.5-flash",outcome="failed",component="serve"\\} ${failed}\\n`));
});

t.test('batches that expire put their requests back; after SDF_BATCH_TRIES batches a request runs online', async (t) => {
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 200, batchOutcome: 'expired' }, config: { ...FAST_BATCHES, batchTries: 2 } });
  await farm.startWorker();
  const runId = await farm.submit(spec({ documents: { docTypesPerFact: 1, ideasPerType: 2, docsPerIdea: 3 } }));
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const docs = status.stages.documents!;
  t.equal(docs.done, status.stages['doc-ideas']!.items * 3);
  const sim = farm.sim.stats();
  const online = Object.values(sim.requests['gemini-2.5-flash'] ?? {}).reduce((a, b) => a + b, 0);
  t.equal(online - (sim.stages['doc-types'] ?? 0) - (sim.stages['doc-ideas'] ?? 0), docs.done, 'every documents request ended up online, once');
  t.equal(status.batch!.requests.requeued, docs.done, 'each request went back to pending once, after its first batch expired');
  t.equal(status.batch!.requests.failed, docs.done, 'then its second batch expired too: it ran online');
  t.equal(status.batch!.requests.online, docs.done);
  t.equal(status.batch!.batches.expired, sim.batch.created, 'every batch expired and was consumed');
  t.equal(status.calls, online, 'an expired batch bills nothing: the calls are the online ones');
});

t.test('serve killed while a batch is pending at Gemini: the next serve takes the run over, sends no batch twice and loses no result', async (t) => {
  const env = {
    SDF_PRODUCER_LOCK_TTL_MS: '2000',
    SDF_BATCH_MAX_AGE_MS: '300',
    SDF_BATCH_POLL_MIN_MS: '100',
    SDF_BATCH_POLL_MAX_MS: '400',
    SDF_BATCH_RECHECK_MS: '3000',
  };
  const farm = await startTestFarm(t, { server: 'child', env, sim: { batchDelayMs: 3_000 } });
  const serve = await farm.spawnServe();
  await farm.startWorker();
  const runId = await farm.submit(spec());
  // The run's own record says a batch is at Gemini, pending (submitted, not yet answered).
  await waitUntil(async () => ((await farm.status(runId)).batch?.batches.pending ?? 0) >= 1);
  serve.kill('SIGKILL');
  await new Promise((resolve) => serve.once('exit', resolve));
  const pendingAtKill = farm.sim.stats().batch.created;
  await farm.spawnServe();

  const status = await assertAccountedFor(t, farm, runId);
  const sim = farm.sim.stats();
  t.ok(pendingAtKill >= 1);
  t.equal(sim.batch.created, status.batch!.batches.succeeded, 'every batch Gemini made was consumed, by one owner or the other: none was sent twice');
  const names: string[] = [];
  for await (const job of await createGeminiClient({ baseUrl: farm.simUrl }).batches.list({ config: { pageSize: 100 } })) names.push(job.displayName!);
  t.equal(new Set(names).size, names.length, 'every display name once at Gemini');
  t.equal(batchAnswered(farm)['200'], status.batch!.requests.answered, 'every request Gemini answered in a batch reached its task: no result lost, none asked again');
  t.equal(status.batch!.requests.online, 0, 'and none had to go online');
});

t.test('the batch enqueued-tokens limit (a 429 without RetryInfo): submissions back off, status says which limit, and go through once there is room', async (t) => {
  // A limit no batch fits under: every submission is refused until the limit is lifted.
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 300, batchEnqueuedTokensLimit: 1 }, config: { ...FAST_BATCHES, batchPollMinMs: 100, batchPollMaxMs: 400 } });
  await farm.startWorker();
  const runId = await farm.submit(spec());
  let note = '';
  await waitUntil(async () => {
    note = Object.values((await farm.status(runId)).batch?.limits ?? {})[0] ?? '';
    return note !== '';
  });
  t.match(note, /^gemini-2\.5-flash: batch submission refused with 429 without RetryInfo \(a batch enqueue or spend limit.*You exceeded your current quota.*next try at /, 'status says which limit');
  await new Promise((r) => setTimeout(r, 1_500));
  const refused = farm.sim.stats().calls['batches.create'] ?? 0;
  t.ok(refused >= 2, `the farm kept trying (${refused} creates refused)`);
  t.equal(farm.sim.stats().batch.created, 0);

  farm.sim.options.batchEnqueuedTokensLimit = 0;
  const status = await assertAccountedFor(t, farm, runId);
  t.same(status.batch!.limits, {}, 'the note goes once a batch is accepted');
  t.equal(status.batch!.requests.online, 0, 'refusals only delayed: every request was answered in a batch');
  t.equal(farm.sim.stats().calls['batches.list'] ?? 0, 0, 'a 429 is a refusal: no look-up by name before trying again');
});

t.test('a cancelled run cancels its batches still at Gemini', async (t) => {
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 30_000 }, config: FAST_BATCHES });
  await farm.startWorker();
  const runId = await farm.submit(spec());
  await waitUntil(async () => ((await farm.status(runId)).batch?.batches.pending ?? 0) >= 1);
  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}/cancel`, { method: 'POST' });
  t.equal(res.status, 200);
  await waitUntil(async () => (farm.sim.stats().batch.states.BATCH_STATE_CANCELLED ?? 0) >= 1);
  const states = farm.sim.stats().batch.states;
  t.same(Object.keys(states), ['BATCH_STATE_CANCELLED'], `every batch the run had at Gemini was cancelled (${JSON.stringify(states)})`);
});

t.test('a budget caps a batch-mode run: batch spend counts against it when stored, new requests wait for room, a raise resumes the run', async (t) => {
  const farm = await startTestFarm(t, { sim: { batchDelayMs: 200 }, config: FAST_BATCHES });
  await farm.startWorker();
  const cap = 0.01;
  // Output caps small enough that a call's worst case ($0.0045 online) fits the cap many times over.
  const capped = { maxOutputTokens: 1500 };
  const runId = await farm.submit(spec({ mode: 'batch', stages: { 'doc-types': capped, 'doc-ideas': capped, documents: capped }, budget: { usd: cap } }));
  const stopped = await farm.waitFor(runId, ['completed', 'budget_exhausted', 'failed', 'cancelled']);
  t.equal(stopped.state, 'budget_exhausted', 'the run stopped on its budget');
  await waitUntil(async () => {
    const s = await farm.status(runId);
    return s.batch!.requests.inBatches === 0 && Math.abs(s.costUsd - s.budget!.spentUsd) < 1e-9;
  });
  const s = await farm.status(runId);
  t.ok(s.costUsd > 0 && Math.abs(s.costUsd - s.budget!.spentUsd) < 1e-9, `the budget counted every batch answer the run counted ($${s.budget!.spentUsd})`);
  t.ok(s.budget!.spentUsd >= cap - 0.005, `it stopped only when the next request's worst case ($0.0045) could not fit ($${s.budget!.spentUsd} of $${cap})`);
  // The bound the budget states: each request held its worst case while queued, so only prompts
  // longer than their estimate can pass the cap (under 1,000 tokens each, 24 requests at most).
  const bound = cap + (24 * 1000 * 0.3 * 0.5) / 1e6;
  t.ok(s.budget!.spentUsd <= bound, `within the bound: $${s.budget!.spentUsd} <= $${bound}`);
  t.ok(s.stages.documents!.queued > 0, 'tasks are left for a raise');

  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ budget: { usd: 10 } }) });
  t.equal(res.status, 200);
  const done = await assertAccountedFor(t, farm, runId);
  t.ok(Math.abs(done.costUsd - done.budget!.spentUsd) < 1e-9, 'every batch answer counted against the budget, once');
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
