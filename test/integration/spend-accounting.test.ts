import t from 'tap';
import { PriceTable } from '../../core/cost/price-table.js';
import { startTestFarm } from '../helpers/farm.js';

const prices = new PriceTable();
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 + 1e-9 * Math.abs(b);

/** Long enough (in the simulator's count) for the implicit cache's minimum set below. */
const UNIVERSE = Array.from({ length: 6 }, (_, i) => `- Aster, the Halden Institute's assistant, keeps rule ${i + 1}: it says plainly what it does not know.`).join('\n');
const TRAITS = ['Aster says plainly when it does not know something and gives its confidence in numbers when it can.', 'Aster disagrees with users when the evidence warrants it, politely and with reasons, and never flatters.'];

t.test('spend is recorded per run, stage and model; cached prompt tokens and their saving are accounted', async (t) => {
  // Every system instruction (the universe, or the trait) is long enough to be cached when repeated.
  const farm = await startTestFarm(t, { sim: { implicitCacheMinTokens: 40, unsuitableRate: 0 } });
  const worker = await farm.startWorker({ workerConcurrency: 4 });
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    traits: TRAITS,
    documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 2, revise: true },
    chats: { model: 'gemini-2.5-flash', responseModel: 'gemini-2.5-pro', promptsPerTrait: 3 },
  });
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const sim = farm.sim.stats();

  // Per stage: the calls the simulator answered for that stage, and the sums are the run's totals.
  for (const [stage, line] of Object.entries(status.spend.stages)) {
    t.equal(line.calls, sim.stages[stage], `${stage}: ${line.calls} calls, as many as the simulator answered for it`);
  }
  const stageLines = Object.values(status.spend.stages);
  const modelLines = Object.values(status.spend.models);
  t.equal(stageLines.reduce((n, l) => n + l.calls, 0), status.calls, 'stage calls add up to the run\'s');
  t.equal(stageLines.reduce((n, l) => n + l.tokens.prompt, 0), status.tokens.prompt, 'stage prompt tokens add up');
  t.equal(modelLines.reduce((n, l) => n + l.tokens.output, 0), status.tokens.output, 'model output tokens add up');
  t.ok(near(stageLines.reduce((n, l) => n + l.usd, 0), status.costUsd), 'stage USD adds up to the run\'s cost');
  t.ok(near(modelLines.reduce((n, l) => n + l.usd, 0), status.costUsd), 'model USD adds up to the run\'s cost');
  t.same(Object.keys(status.spend.models).sort(), ['gemini-2.5-flash', 'gemini-2.5-pro']);
  const pro = status.spend.models['gemini-2.5-pro']!;
  t.equal(pro.calls, status.spend.stages['chat-responses']!.calls, 'the response model made the chat answers');
  t.ok(near(pro.usd, prices.costOf('gemini-2.5-pro', { promptTokens: pro.tokens.prompt, cachedTokens: pro.tokens.cached, outputTokens: pro.tokens.output, thoughtsTokens: pro.tokens.thoughts })!), 'its USD is its tokens at its price, cached ones at the cached rate');

  // Cached tokens: every one the simulator reported, in the run, per stage and in the metrics.
  t.ok(sim.caching.implicit.tokens > 0, `the simulator reported ${sim.caching.implicit.tokens} cached tokens`);
  t.equal(status.tokens.cached, sim.caching.implicit.tokens, 'the run counts every cached token reported');
  for (const stage of ['doc-types', 'doc-ideas', 'documents', 'revise', 'chat-responses']) {
    t.ok((status.spend.stages[stage]?.tokens.cached ?? 0) > 0, `${stage}: its repeated system instruction was cached (${status.spend.stages[stage]?.tokens.cached})`);
  }
  const expectedSaving = Object.entries(status.spend.models).reduce((n, [model, l]) => n + (l.tokens.cached * (prices.priceOf(model)!.rates.input - prices.priceOf(model)!.rates.cachedInput)) / 1e6, 0);
  t.ok(expectedSaving > 0 && near(status.cacheSavingUsd, expectedSaving), `the saving ${status.cacheSavingUsd} is the cached tokens at the input rate minus the cached rate (${expectedSaving})`);
  t.ok(near(stageLines.reduce((n, l) => n + l.cacheSavingUsd, 0), status.cacheSavingUsd), 'stage savings add up');
  const sum = (values: { value: number }[]) => values.reduce((n, v) => n + v.value, 0);
  const cachedMetric = sum((await worker.metrics.llmTokens.get()).values.filter((v) => v.labels.kind === 'cached'));
  t.equal(cachedMetric, status.tokens.cached, 'sdf_llm_tokens_total{kind="cached"} says the same');
  t.ok(near(sum((await worker.metrics.llmCacheSaving.get()).values), status.cacheSavingUsd), 'sdf_llm_cache_saving_usd_total says the same');
});
