import t from 'tap';
import type { RunEstimate } from '../../producer/run-estimate.js';
import type { CostProjection } from '../../producer/cost-projection.js';
import type { RunStatus } from '../../core/runs/run-status.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';
import { PLANTED_PATTERNS } from '../../sim/patterns.js';

type StatusWithProjection = RunStatus & { projection: CostProjection };

async function dryRun(farm: TestFarm, spec: unknown): Promise<{ status: number; body: RunEstimate & { dryRun: boolean } }> {
  const res = await fetch(`${farm.apiUrl}/v1/runs?dryRun=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  return { status: res.status, body: (await res.json()) as RunEstimate & { dryRun: boolean } };
}

const simRequests = (farm: TestFarm) => Object.values(farm.sim.stats().requests).reduce((n, byCode) => n + Object.values(byCode).reduce((a, b) => a + b, 0), 0);

/** 13 bullet lines: facts extraction finds 12 of them (its template's maximum), traits all 13. */
const BULLETS = Array.from({ length: 13 }, (_, i) => `- Aster keeps promise number ${i + 1} to every user it meets, whatever the hour.`).join('\n');

// The simulator marks no idea unsuitable and plants no pattern here, so no chat turn is rejected
// and the real run reaches every bound of the fan-out, every turn of every conversation included.
t.test('a dry run creates nothing and calls no model; its task counts are the real run\'s', async (t) => {
  const farm = await startTestFarm(t, { sim: { unsuitableRate: 0, patternRates: Object.fromEntries(PLANTED_PATTERNS.map((p) => [p.id, 0])) } });
  const specs = {
    'given facts and traits': {
      universe: BULLETS,
      keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
      traits: ['Aster admits uncertainty plainly and gives numbers.', 'Aster disagrees politely when the evidence warrants it.'],
      documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 },
      chats: { promptsPerTrait: 2, turns: 3 },
    },
    'facts and traits extracted': { universe: BULLETS, documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 }, chats: { promptsPerTrait: 1 } },
  };
  const estimates: Record<string, RunEstimate> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const { status, body } = await dryRun(farm, spec);
    t.equal(status, 200, `${name}: dry run answered 200`);
    t.equal(body.dryRun, true);
    estimates[name] = body;
  }
  t.same((await (await fetch(`${farm.apiUrl}/v1/runs`)).json()).runs, [], 'no run was created');
  t.equal(simRequests(farm), 0, 'the simulator got no request');
  t.same(Object.keys(estimates['given facts and traits']!.stages), ['doc-types', 'doc-ideas', 'documents', 'chat-prompts', 'chat-responses', 'chat-user'], 'given key facts and traits: no facts or traits stage');
  t.equal(estimates['given facts and traits']!.stages['chat-responses']?.tasks, 2 * 2 * 3, '3 turns: each prompt answered 3 times');
  t.equal(estimates['given facts and traits']!.stages['chat-user']?.tasks, 2 * 2 * 2, '3 turns: 2 simulated user messages per prompt');
  t.notOk(estimates['facts and traits extracted']!.stages['chat-user'], 'single-turn chats have no user simulator');
  t.equal(estimates['facts and traits extracted']!.stages.facts?.tasks, 1);

  await farm.startWorker({ workerConcurrency: 8 });
  for (const [name, spec] of Object.entries(specs)) {
    const status = await farm.waitFor(await farm.submit(spec));
    t.equal(status.state, 'completed', `${name}: completed`);
    const real = Object.fromEntries(Object.entries(status.stages).map(([stage, s]) => [stage, s.done]));
    const estimated = Object.fromEntries(Object.entries(estimates[name]!.stages).map(([stage, s]) => [stage, s.tasks]));
    t.same(real, estimated, `${name}: every stage's task count is the estimate's (${JSON.stringify(real)})`);
  }
});

t.test('a bad spec is refused by a dry run exactly as by a submission', async (t) => {
  const farm = await startTestFarm(t);
  const bad = { universe: '', documents: { docTypesPerFact: 0, ideasPerType: 1, docsPerIdea: 1 } };
  const submitted = await fetch(`${farm.apiUrl}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) });
  const dry = await dryRun(farm, bad);
  t.equal(dry.status, 400);
  t.same(dry.body, await submitted.json(), 'same status, same problems');
  const yaml = await fetch(`${farm.apiUrl}/v1/runs?dryRun=true`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'universe: |\n  - a trait\nchats:\n  promptsPerTrait: 3\n' });
  t.equal(yaml.status, 200, 'YAML works too');
  t.equal(((await yaml.json()) as RunEstimate).stages['chat-responses']?.tasks, 3);
  const notBoolean = await fetch(`${farm.apiUrl}/v1/runs?dryRun=perhaps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) });
  t.equal(notBoolean.status, 400, 'dryRun must be a boolean');
  t.match(await notBoolean.json(), { error: /dryRun/ });
});

t.test('status shows spend and a projected total: the estimate before any task, observed costs after, the spend at the end', async (t) => {
  const farm = await startTestFarm(t, { sim: { unsuitableRate: 0, latencyMs: 40 } });
  const spec = {
    universe: BULLETS,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 8 },
  };
  const estimate = (await dryRun(farm, spec)).body;
  const runId = await farm.submit(spec);
  // No worker yet: nothing is done, every stage is projected from the estimate's typical task.
  const before = (await farm.status(runId)) as StatusWithProjection;
  t.equal(before.projection.spentUsd, 0);
  for (const stage of ['doc-types', 'doc-ideas', 'documents'] as const) t.equal(before.projection.stages[stage]?.basis, 'estimate', `${stage}: from the estimate`);
  t.ok(Math.abs(before.projection.projectedUsd - estimate.usd.low) < 1e-5, `projected ${before.projection.projectedUsd} = the estimate's low end ${estimate.usd.low}`);

  await farm.startWorker({ workerConcurrency: 4 });
  // Mid-run, once every idea is known and some documents are done: the projection rests on them.
  let middle: StatusWithProjection;
  for (;;) {
    middle = (await farm.status(runId)) as StatusWithProjection;
    const docs = middle.stages.documents?.done ?? 0;
    if (middle.stages['doc-ideas']?.done === 4 && docs >= 20) break;
    if (middle.state === 'completed') throw new Error('the run finished before the middle was seen');
    await new Promise((r) => setTimeout(r, 50));
  }
  const docs = middle.projection.stages.documents!;
  t.equal(docs.basis, 'observed');
  t.equal(docs.tasks, 2 * 2 * 3 * 8, 'the bound is exact once every idea is known');
  t.equal(docs.remaining, 96 - docs.done);
  t.ok(Math.abs(docs.usdPerTask - docs.spentUsd / docs.done) < 1e-12, 'remaining documents at the mean of the done ones');
  t.ok(middle.projection.projectedUsd >= middle.projection.spentUsd);

  const end = (await farm.waitFor(runId)) as StatusWithProjection;
  t.equal(end.state, 'completed');
  t.ok(Math.abs(end.projection.projectedUsd - end.costUsd) < 1e-12, 'a finished run is projected at its spend');
  t.equal(end.projection.stages.documents?.remaining, 0);
  const error = Math.abs(middle.projection.projectedUsd - end.costUsd) / end.costUsd;
  t.ok(error < 0.2, `the mid-run projection (${middle.projection.projectedUsd.toFixed(6)}) was within 20% of the final cost (${end.costUsd.toFixed(6)}): ${(error * 100).toFixed(1)}%`);
});
