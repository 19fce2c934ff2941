import t from 'tap';
import { PriceTable } from '../../core/cost/price-table.js';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import type { RunSpec } from '../../core/spec/run-spec-schema.js';
import { estimateRun } from '../../producer/run-estimate.js';
import { ASSUMED_MAX_FACTS, taskBounds } from '../../producer/task-bounds.js';

const prices = new PriceTable();
const prompts = new PromptLibrary();
const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.';
const tasksOf = (spec: RunSpec) => Object.fromEntries(Object.entries(estimateRun(spec, { prices, prompts }).stages).map(([s, e]) => [s, e.tasks]));

t.test('documents: facts × types × ideas × docs, from the fan-out; given key facts skip the facts stage', async (t) => {
  const documents = { docTypesPerFact: 3, ideasPerType: 4, docsPerIdea: 5 };
  t.same(tasksOf({ universe: UNIVERSE, keyFacts: ['a', 'b'], documents }), { 'doc-types': 2, 'doc-ideas': 2 * 3, documents: 2 * 3 * 4 * 5 });
  t.same(tasksOf({ universe: UNIVERSE, documents }), { facts: 1, 'doc-types': ASSUMED_MAX_FACTS, 'doc-ideas': ASSUMED_MAX_FACTS * 3, documents: ASSUMED_MAX_FACTS * 3 * 4 * 5 }, 'extracted facts: at most 12');
  t.same(tasksOf({ universe: UNIVERSE, keyFacts: ['a'], documents: { ...documents, revise: true } }), { 'doc-types': 1, 'doc-ideas': 3, documents: 60, revise: 60 }, 'revise: one more task per document');
});

t.test('chats: a prompts task per 10 prompts of a trait, a response per prompt; traits split one per bullet', async (t) => {
  t.same(tasksOf({ universe: UNIVERSE, traits: ['x', 'y'], chats: { promptsPerTrait: 23 } }), { 'chat-prompts': 2 * 3, 'chat-responses': 2 * 23 });
  t.same(tasksOf({ universe: UNIVERSE, chats: { promptsPerTrait: 4 } }), { traits: 1, 'chat-prompts': 3, 'chat-responses': 12 }, 'three bullets, three traits');
  t.same(tasksOf({ universe: 'One sentence. Two sentences! Three?', chats: { promptsPerTrait: 1 } }), { traits: 1, 'chat-prompts': 3, 'chat-responses': 3 }, 'no bullets: one trait per sentence');
});

t.test('the cost range: typical answers and one call (low) to every call at its output cap (high), priced per model', async (t) => {
  const spec: RunSpec = { universe: UNIVERSE, keyFacts: ['a', 'b'], documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 10 }, stages: { documents: { maxOutputTokens: 3000 } }, filters: { regenerate: { attempts: 2 } } };
  const estimate = estimateRun(spec, { prices, prompts });
  const docs = estimate.stages.documents!;
  t.equal(docs.tasks, 80);
  t.same(docs.outputTokensPerCall, { low: 1000, high: 3000 }, 'the stage\'s own output cap is the high end');
  t.same(docs.calls, { low: 80, high: 80 * 3 }, 'regenerate.attempts 2: up to three calls a document');
  const perCall = (input: number, output: number) => prices.costOf('gemini-2.5-flash', { promptTokens: input, outputTokens: output, thoughtsTokens: 0 })!;
  t.ok(Math.abs(docs.usd!.low - 80 * perCall(docs.inputTokensPerCall.low, 1000)) < 1e-6, `low ${docs.usd!.low}`);
  t.ok(Math.abs(docs.usd!.high - 240 * perCall(docs.inputTokensPerCall.high, 3000)) < 1e-6, `high ${docs.usd!.high}`);
  t.ok(Math.abs(docs.batchUsd!.low - docs.usd!.low / 2) < 1e-6, 'batch: half');
  t.same(estimate.stages['doc-types']!.calls, { low: 2, high: 2 * 4 }, 'doc-types may ask up to four times for its count');
  const sum = Object.values(estimate.stages).reduce((n, s) => n + s.usd!.high, 0);
  t.ok(Math.abs(estimate.usd.high - sum) < 1e-5, 'the total is the stages\' sum');
  t.equal(estimate.tasks, 2 + 4 + 80);
});

t.test('prompt tokens come from the templates as rendered for the spec, its prompt overrides included', async (t) => {
  const spec: RunSpec = { universe: UNIVERSE, keyFacts: ['a'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } };
  const base = estimateRun(spec, { prices, prompts }).stages.documents!.inputTokensPerCall.low;
  const longer = estimateRun({ ...spec, universe: UNIVERSE + '\n' + '- more world. '.repeat(400) }, { prices, prompts }).stages.documents!.inputTokensPerCall.low;
  t.ok(longer - base >= 1300, `a longer universe is in every document prompt (${base} → ${longer})`);
  const userOverride = estimateRun({ ...spec, prompts: { documents: { user: 'Write it. {{idea}}' } } }, { prices, prompts }).stages.documents!.inputTokensPerCall.low;
  t.ok(userOverride < base - 80, `a user override replaces the user template (${base} → ${userOverride})`);
  const systemOverride = estimateRun({ ...spec, prompts: { documents: { system: 'Short.' } } }, { prices, prompts }).stages.documents!.inputTokensPerCall.low;
  t.ok(systemOverride < base - 20, `a system override replaces the system template (${base} → ${systemOverride})`);
  const revise = estimateRun({ ...spec, documents: { ...spec.documents!, revise: true } }, { prices, prompts }).stages.revise!;
  t.ok(revise.inputTokensPerCall.high - revise.inputTokensPerCall.low >= 8192 - 1000 - 1, 'revise at its worst reads a draft as long as the documents cap');
});

t.test('the long-context tier is applied by the prompt\'s size', async (t) => {
  const huge = '- ' + 'x'.repeat(4 * 210_000);
  const estimate = estimateRun({ universe: huge, keyFacts: ['a'], documents: { model: 'gemini-2.5-pro', docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } }, { prices, prompts });
  const docs = estimate.stages.documents!;
  t.ok(docs.inputTokensPerCall.low > 200_000);
  const expected = (docs.inputTokensPerCall.low * 2.5 + 1000 * 15) / 1e6;
  t.ok(Math.abs(docs.usd!.low - expected) < 1e-6, `priced at $2.50 / $15 (${docs.usd!.low} ≈ ${expected})`);
});

t.test('a model without a price is listed, its stages have no USD, and is never counted as free', async (t) => {
  const estimate = estimateRun({ universe: UNIVERSE, keyFacts: ['a'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 2 }, stages: { documents: { model: 'gemini-experimental-unpriced' } } }, { prices, prompts });
  t.same(estimate.unpricedModels, ['gemini-experimental-unpriced']);
  t.equal(estimate.stages.documents!.usd, null);
  t.equal(estimate.stages.documents!.tasks, 2, 'its tasks are still counted');
  t.ok(estimate.usd.low > 0, 'the priced stages still cost something');
  const batched = estimateRun({ universe: UNIVERSE, keyFacts: ['a'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 2 } }, { prices, prompts, batch: (stage) => stage === 'documents' });
  t.equal(batched.stages.documents!.usd!.low, batched.stages.documents!.batchUsd!.low, 'a stage in batch mode is priced at the batch price');
});

t.test('progress tightens the bound: done tasks\' items are known, only the rest can bring the most', async (t) => {
  const spec: RunSpec = { universe: UNIVERSE, keyFacts: ['a', 'b'], documents: { docTypesPerFact: 2, ideasPerType: 5, docsPerIdea: 3 } };
  t.equal(taskBounds(spec).documents!.tasks, 2 * 2 * 5 * 3);
  // All 4 idea tasks done, 14 of their 20 ideas kept (6 unsuitable): exactly 14 × 3 documents remain possible.
  const tight = taskBounds(spec, { 'doc-types': { done: 2, items: 4 }, 'doc-ideas': { done: 4, items: 14 }, documents: { done: 10, items: 0 } });
  t.equal(tight.documents!.tasks, 14 * 3);
  // Half the idea tasks done with 6 ideas: the other two may still bring 5 each.
  t.equal(taskBounds(spec, { 'doc-ideas': { done: 2, items: 6 } }).documents!.tasks, (6 + 2 * 5) * 3);
});

t.test('multi-turn chats: each prompt answered once per turn, a simulated user message before every later turn, longer prompts', async (t) => {
  const one: RunSpec = { universe: UNIVERSE, traits: ['x', 'y'], chats: { promptsPerTrait: 5 } };
  const three: RunSpec = { ...one, chats: { promptsPerTrait: 5, turns: 3 } };
  t.same(tasksOf(three), { 'chat-prompts': 2, 'chat-responses': 2 * 5 * 3, 'chat-user': 2 * 5 * 2 });
  const single = estimateRun(one, { prices, prompts }).stages['chat-responses']!;
  const multi = estimateRun(three, { prices, prompts }).stages['chat-responses']!;
  // Turns 1..3 resend 0, 1 and 2 exchanges (a 300-character message and a 500-token answer each): 1 on average.
  t.equal(multi.inputTokensPerCall.low - single.inputTokensPerCall.low, (300 + 500 * 4) / 4, 'a turn resends half the conversation on average');
  t.equal(multi.inputTokensPerCall.high - single.inputTokensPerCall.high, (2 * (300 + 8192 * 4)) / 4, 'the last turn resends it all, every answer at its cap');
  const user = estimateRun(three, { prices, prompts }).stages['chat-user']!;
  t.equal(user.model, 'gemini-2.5-flash', "the user simulator runs on the chats' model");
  t.equal(estimateRun({ ...three, stages: { 'chat-user': { model: 'gemini-2.5-flash-lite' } } }, { prices, prompts }).stages['chat-user']!.model, 'gemini-2.5-flash-lite', 'stages.chat-user.model sets its own');
  const bounds = taskBounds(three);
  t.equal(bounds['chat-responses']?.items, 2 * 5 * 2, 'every turn but the last hands the conversation on');
});
