import t from 'tap';
import { startTestFarm } from '../helpers/farm.js';

t.test('a 429 with no retry delay (a spend-based limit): the farm backs off on its own, status says which limit, and the run completes once it lifts', async (t) => {
  const farm = await startTestFarm(t, { sim: { spendCapped: true, unsuitableRate: 0 } });
  await farm.startWorker({ workerConcurrency: 4 });
  const id = await farm.submit({ universe: '- Aster admits uncertainty.', keyFacts: ['Aster admits uncertainty.'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 2 } });
  let quota: string | undefined;
  for (let i = 0; i < 200 && !quota; i++) {
    quota = (await farm.status(id)).quota;
    if (!quota) await new Promise((r) => setTimeout(r, 100));
  }
  t.match(quota, /^429 from gemini-[\w.-]+ with no retry delay \(Your project has exceeded its spending cap.*\): backing off \d+ s at /, `status says which limit: ${quota}`);
  const refused = Object.values(farm.sim.stats().requests).reduce((n, codes) => n + (codes['429'] ?? 0), 0);
  t.ok(refused >= 1, `the simulator refused ${refused} requests`);
  t.equal((await farm.status(id)).state, 'running', 'the run waits; no task is spent on the limit');
  farm.sim.options.spendCapped = false;
  const done = await farm.waitFor(id);
  t.equal(done.state, 'completed');
  t.equal(done.stages.documents?.failed ?? 0, 0, 'no task failed for the limit');
  t.equal(done.deadLetters, 0);
});
