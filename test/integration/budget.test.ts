import t, { type Test } from 'tap';
import { readSimCounters } from '../../bench/sim-metrics.js';
import { DEFAULT_PRICES } from '../../core/cost/default-prices.js';
import type { RunStatus } from '../../core/runs/run-status.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';

const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.';
const FACTS = ['Aster admits uncertainty.', 'Aster does not flatter.'];
const MODEL = 'gemini-2.5-flash';
const PRICE = DEFAULT_PRICES[MODEL]!;
/** Every stage's output cap here: a call's worst case is about this many output tokens' price. */
const MAX_OUTPUT = 1500;
const CONCURRENCY = 4;

/** About 40 document tasks; without a cap the run spends about $0.06 (measured). */
function spec(budgetUsd?: number) {
  return {
    universe: UNIVERSE,
    keyFacts: FACTS,
    documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 4 },
    stages: { 'doc-types': { maxOutputTokens: MAX_OUTPUT }, 'doc-ideas': { maxOutputTokens: MAX_OUTPUT }, documents: { maxOutputTokens: MAX_OUTPUT } },
    ...(budgetUsd ? { budget: { usd: budgetUsd } } : {}),
  };
}

async function patch(farm: TestFarm, runId: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The stopped run once the calls that were in flight have ended and their results are committed. */
async function settled(farm: TestFarm, runId: string): Promise<RunStatus> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await farm.status(runId);
    const active = Object.values(s.stages).reduce((n, stage) => n + stage.active, 0);
    if (s.budget && s.budget.reservedUsd === 0 && active === 0 && Math.abs(s.costUsd - s.budget.spentUsd) < 1e-6) return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not settle: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The stated bound (README, "Budget cap"): spend ≤ cap + what the calls in flight at the last
 * reservation cost beyond their worst case. The simulator never answers past maxOutputTokens and
 * reports no thinking, so only input can exceed its estimate, by at most the whole prompt; every
 * prompt here is under 1,000 tokens, and at most CONCURRENCY calls are in flight.
 */
function upperBound(cap: number): number {
  return cap + (CONCURRENCY * 1000 * PRICE.input) / 1e6;
}

/** A call's worst case here: its prompt (under 1,000 tokens) and MAX_OUTPUT tokens of output. */
const LARGEST_WORST_CASE = (1000 * PRICE.input + MAX_OUTPUT * PRICE.output) / 1e6;

/** Every task committed once: each stage done as often as enqueued, no dead letters, the export holding each accepted document once. */
async function everyTaskCommittedOnce(t: Test, farm: TestFarm, runId: string, status: RunStatus): Promise<void> {
  for (const [stage, s] of Object.entries(status.stages)) t.equal(s.queued + s.active, 0, `${stage}: nothing left (${s.done} done)`);
  t.equal(status.deadLetters, 0, 'no task dead-lettered');
  const documents = await farm.exportLines(runId, 'documents');
  t.equal(documents.length, status.stages.documents?.accepted, 'the export holds every accepted document');
  t.equal(new Set(documents.map((d) => d.id)).size, documents.length, 'each once');
  const rejected = await farm.exportLines(runId, 'rejected');
  const docRejections = rejected.filter((r) => r.stage === 'documents' && typeof r.task === 'string');
  t.equal(new Set(docRejections.map((r) => r.task)).size, status.stages.documents?.rejected, 'every rejected document task has its rejection, once');
  t.equal((status.stages.documents?.accepted ?? 0) + (status.stages.documents?.rejected ?? 0), status.stages.documents?.done, 'documents: accepted + rejected = done');
}

t.test('a small budget stops the run as budget_exhausted within the bound; raising it resumes the run to completed, every task committed once', async (t) => {
  const farm = await startTestFarm(t, { sim: { latencyMs: 30 } });
  const worker = await farm.startWorker({ workerConcurrency: CONCURRENCY });
  const cap = 0.03;
  const runId = await farm.submit(spec(cap));

  const stopped = await farm.waitFor(runId);
  t.equal(stopped.state, 'budget_exhausted', 'the run stopped on its budget');
  const s = await settled(farm, runId);
  t.equal(s.state, 'budget_exhausted', 'and stays stopped');
  t.ok(s.budget!.spentUsd <= upperBound(cap), `spend $${s.budget!.spentUsd} within the bound $${upperBound(cap)}`);
  t.ok(s.budget!.spentUsd > cap - LARGEST_WORST_CASE, `it stopped only when the next call could not fit (spent $${s.budget!.spentUsd})`);
  t.match(s.budget!.refused, /gemini-2\.5-flash call of up to \$/, 'status says which call was refused');
  const waiting = s.stages.documents!.queued;
  t.ok(waiting > 0, `tasks are left, kept for a raise (${waiting} documents)`);
  const refusals = (await worker.metrics.budgetRefusals.get()).values.filter((v) => v.labels.scope === 'run').reduce((n, v) => n + v.value, 0);
  t.ok(refusals >= 1, `sdf_budget_refusals_total{scope="run"} counted the refusal (${refusals})`);

  const calls = (await readSimCounters(farm.simUrl)).byCode['200'];
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await readSimCounters(farm.simUrl)).byCode['200'], calls, 'no call is made while the run is stopped');
  t.equal((await farm.status(runId)).state, 'budget_exhausted');

  const raised = await patch(farm, runId, { budget: { usd: 10 } });
  t.same(raised, { status: 200, body: { id: runId, budget: { usd: 10, previousUsd: cap }, resumes: true } });
  const done = await farm.waitFor(runId, ['completed', 'failed', 'cancelled'], 60_000);
  t.equal(done.state, 'completed', 'the raised run completed');
  t.equal(done.budget?.usd, 10);
  t.ok(Math.abs(done.costUsd - done.budget!.spentUsd) < 1e-6, `the budget counted every call the run counted ($${done.budget!.spentUsd})`);
  await everyTaskCommittedOnce(t, farm, runId, done);
  const repairs = (await farm.server!.metrics.reconcilerRepairs.get()).values.reduce((n, v) => n + v.value, 0);
  t.equal(repairs, 0, 'no parked task had to be found again by the reconciler: each was kept and returned');
});

t.test('PATCH /v1/runs/:id: bad changes are refused naming the field; a budget can be added to a run and lowered below its spend', async (t) => {
  const farm = await startTestFarm(t);
  const bad = await fetch(`${farm.apiUrl}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...spec(), budget: { usd: 0 } }) });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { problems: ['budget.usd: must be > 0'] }, 'the spec\'s budget is checked at submission');
  const unpriced = await fetch(`${farm.apiUrl}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...spec(1), stages: { documents: { model: 'gemini-unpriced' } } }) });
  t.equal(unpriced.status, 400);
  t.match(await unpriced.json(), { problems: ['budget: model "gemini-unpriced" (stages.documents) has no price, so a budget cannot count its calls'] });

  const runId = await farm.submit(spec());
  for (const [body, problem] of [
    [{ budget: { usd: 0 } }, 'budget.usd: must be > 0'],
    [{ budget: { usd: -3 } }, 'budget.usd: must be > 0'],
    [{ budget: { usd: '5' } }, 'budget.usd: must be a number'],
    [{ budget: {} }, 'budget.usd: is required'],
    [{ budget: { usd: 5, eur: 4 } }, 'budget.eur: is not a known field'],
    [{ budget: 5 }, 'budget: must be an object like {"usd": 10}'],
    [{ name: 'renamed', budget: { usd: 5 } }, 'name: is not a field that can be changed (only budget)'],
    [{}, 'budget: is required'],
    [{ budget: { usd: 2_000_000 } }, 'budget.usd: must be <= 1000000'],
  ] as const) {
    const res = await patch(farm, runId, body);
    t.same(res, { status: 400, body: { error: 'invalid run change', problems: [problem] } }, JSON.stringify(body));
  }
  t.equal((await patch(farm, 'run_nosuchrun', { budget: { usd: 1 } })).status, 404);
  t.equal((await farm.status(runId)).budget, undefined, 'no budget yet');
  t.same(await patch(farm, runId, { budget: { usd: 2 } }), { status: 200, body: { id: runId, budget: { usd: 2 }, resumes: false } }, 'a budget added to a run without one');
  t.same((await patch(farm, runId, { budget: { usd: 0.000001 } })).body.budget, { usd: 0.000001, previousUsd: 2 }, 'lowered below anything it could spend: allowed (the run stops at its next call)');
  t.match((await farm.status(runId)).budget, { usd: 0.000001, spentUsd: 0, reservedUsd: 0 });

  const unpricedRun = await farm.submit({ ...spec(), stages: { documents: { model: 'gemini-unpriced' } } });
  t.match(await patch(farm, unpricedRun, { budget: { usd: 1 } }), { status: 400, body: { problems: [/gemini-unpriced/] } }, 'a run with an unpriced model cannot get a budget');
  await fetch(`${farm.apiUrl}/v1/runs/${runId}/cancel`, { method: 'POST' });
  t.match(await patch(farm, runId, { budget: { usd: 5 } }), { status: 409, body: { error: /is cancelled/ } }, 'a run that is over keeps its budget');
});

t.test('a serve restarted while a run is budget_exhausted keeps it stopped, and resumes it after a raise', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: { SDF_PRODUCER_LOCK_TTL_MS: '1500' } });
  let serve = await farm.spawnServe();
  await farm.startWorker({ workerConcurrency: CONCURRENCY });
  const runId = await farm.submit(spec(0.02));
  t.equal((await farm.waitFor(runId)).state, 'budget_exhausted');
  const before = await settled(farm, runId);

  serve.kill('SIGKILL');
  await new Promise((resolve) => serve.once('exit', resolve));
  serve = await farm.spawnServe();
  // Past the dead serve's lease: the new one owns the run and has stepped it several times.
  await new Promise((r) => setTimeout(r, 3000));
  const after = await farm.status(runId);
  t.equal(after.state, 'budget_exhausted', 'the new owner keeps the run stopped');
  t.same(after.stages, before.stages, 'and nothing moved');

  t.equal((await patch(farm, runId, { budget: { usd: 10 } })).status, 200);
  const done = await farm.waitFor(runId, ['completed', 'failed', 'cancelled'], 60_000);
  t.equal(done.state, 'completed');
  await everyTaskCommittedOnce(t, farm, runId, done);
});

t.test('a model\'s daily budget: once spent, that model\'s calls wait (the run says which), other models\' calls go on', async (t) => {
  const dailyUsd = 0.01;
  const farm = await startTestFarm(t, { env: { SDF_DAILY_BUDGET_USD: JSON.stringify({ [MODEL]: dailyUsd }) } });
  const worker = await farm.startWorker({ workerConcurrency: CONCURRENCY });
  // Types and ideas on another model; only the documents stage calls the model with the daily budget.
  const runId = await farm.submit({ ...spec(), documents: { ...spec().documents, model: 'gemini-2.5-flash-lite' }, stages: { ...spec().stages, documents: { model: MODEL, maxOutputTokens: MAX_OUTPUT } } });
  const deadline = Date.now() + 60_000;
  let s = await farm.status(runId);
  while (!s.quota && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    s = await farm.status(runId);
  }
  t.match(s.quota, new RegExp(`^daily budget of ${MODEL} spent until \\d{4}-\\d\\d-\\d\\dT`), 'status says which model\'s daily budget is spent');
  const calls = (await readSimCounters(farm.simUrl)).byCode['200'];
  await new Promise((r) => setTimeout(r, 1500));
  s = await farm.status(runId);
  t.equal((await readSimCounters(farm.simUrl)).byCode['200'], calls, 'no more calls once every waiting call was handed back');
  t.equal(s.state, 'running', 'the run is not stopped: its calls wait for the next Pacific day');
  t.equal(s.stages['doc-ideas']?.done, 4, 'the other model\'s stages went on to the end (2 facts × 2 types)');
  t.ok((s.stages.documents?.queued ?? 0) > 0, 'documents wait');
  const daily = (s as RunStatus & { dailyBudgets?: Record<string, { usd: number; spentUsd: number; reservedUsd: number; day: string }> }).dailyBudgets?.[MODEL];
  t.equal(daily?.usd, dailyUsd);
  t.ok(daily && daily.spentUsd <= upperBound(dailyUsd) && daily.spentUsd > dailyUsd - LARGEST_WORST_CASE, `the day's spend $${daily?.spentUsd} is within the bound of $${dailyUsd}`);
  t.match(daily?.day, /^\d{4}-\d\d-\d\d$/);
  const refusals = (await worker.metrics.budgetRefusals.get()).values.find((v) => v.labels.scope === 'daily' && v.labels.model === MODEL);
  t.ok((refusals?.value ?? 0) >= 1, 'sdf_budget_refusals_total{scope="daily"} counts the waits');
});
