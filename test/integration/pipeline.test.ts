import t from 'tap';
import { startTestFarm } from '../helpers/farm.js';

const UNIVERSE = [
  'Aster is an AI assistant made by the Halden Institute.',
  '- Aster says plainly when it does not know something.',
  '- Aster disagrees with users when the evidence warrants it, politely and with reasons.',
  '- Aster keeps answers short and never pads them with reassurance.',
  '- Aster refuses to fabricate citations and says so.',
].join('\n');

t.test('a run on the simulator: every stage fans out as specified and every task is accounted for', async (t) => {
  const farm = await startTestFarm(t);
  await farm.startWorker();
  const T = 2;
  const I = 3;
  const D = 2;
  const runId = await farm.submit({
    name: 'fan-out',
    universe: UNIVERSE,
    documents: { docTypesPerFact: T, ideasPerType: I, docsPerIdea: D },
    chats: { promptsPerTrait: 4 },
  });
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  const s = status.stages;
  const facts = s.facts!.items;
  t.ok(facts >= 3, `facts extracted (${facts})`);
  t.equal(s['doc-types']!.done, facts, 'one doc-types task per fact');
  t.equal(s['doc-types']!.items, facts * T, 'docTypesPerFact types per fact');
  t.equal(s['doc-ideas']!.done, facts * T, 'one doc-ideas task per (fact, type)');
  const unsuitable = s['doc-ideas']!.rejectedByReason.unsuitable ?? 0;
  t.equal(s['doc-ideas']!.items + unsuitable, facts * T * I, 'ideasPerType ideas per type, suitable or not');
  t.equal(s.documents!.done, s['doc-ideas']!.items * D, 'docsPerIdea documents per suitable idea');
  t.equal(s.documents!.accepted + s.documents!.rejected + s.documents!.failed, s.documents!.done);
  t.equal(s.documents!.done + unsuitable * D, facts * T * I * D, 'facts × types × ideas × docs, all accounted for');

  const documents = await farm.exportLines(runId, 'documents');
  const rejected = await farm.exportLines(runId, 'rejected');
  t.equal(documents.length, s.documents!.accepted);
  t.equal(new Set(documents.map((d) => d.id)).size, documents.length, 'document ids are unique');
  t.equal(rejected.filter((r) => r.stage === 'documents').length, s.documents!.rejected);
  for (const doc of documents) {
    t.type(doc.text, 'string');
    t.ok((doc.text as string).length > 200, 'documents have substance');
    t.match(doc, { kind: 'document', fact: String, docType: String, idea: String });
  }
  for (const r of rejected) t.type(r.reason, 'string', 'every rejection names its reason');

  const traits = s.traits!.items;
  t.ok(traits >= 3);
  t.equal(s['chat-prompts']!.items, traits * 4);
  t.equal(s['chat-responses']!.done, traits * 4);
  const chats = await farm.exportLines(runId, 'chats');
  t.equal(chats.length, s['chat-responses']!.accepted);
  for (const chat of chats) {
    const messages = chat.messages as { role: string; content: string }[];
    t.same(messages.map((m) => m.role), ['user', 'assistant'], 'a chat is the user turn and the answer only');
    t.notMatch(JSON.stringify(chat), /<trait>|Embody the trait/, 'no trace of the system instruction');
  }
  t.ok(status.tokens.prompt > 0 && status.tokens.output > 0, 'tokens are counted');
  t.equal(status.deadLetters, 0);

  // Export formats
  const texts = await farm.exportLines(runId, 'documents', 'text');
  t.same(texts[0], { text: documents[0]!.text });
  const messages = await farm.exportLines(runId, 'chats', 'messages');
  t.same(messages[0], { messages: chats[0]!.messages });
  const gemini = await farm.exportLines(runId, 'chats', 'gemini');
  const first = chats[0]!.messages as { content: string }[];
  t.same(gemini[0], { contents: [{ role: 'user', parts: [{ text: first[0]!.content }] }, { role: 'model', parts: [{ text: first[1]!.content }] }] });
});

t.test('given key facts and traits skip extraction; revise keeps the critique, and a revision replaces its draft in the corpus', async (t) => {
  const farm = await startTestFarm(t);
  await farm.startWorker();
  const runId = await farm.submit({
    universe: UNIVERSE,
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    traits: ['Aster admits uncertainty.'],
    documents: { docTypesPerFact: 1, ideasPerType: 4, docsPerIdea: 2, revise: true },
    chats: { promptsPerTrait: 3 },
  });
  const status = await farm.waitFor(runId);
  t.equal(status.state, 'completed');
  t.notOk(status.stages.facts, 'no facts task');
  t.notOk(status.stages.traits, 'no traits task');
  t.equal(status.stages['doc-types']!.done, 2);
  const revise = status.stages.revise!;
  t.equal(revise.done, status.stages.documents!.accepted, 'every accepted draft is revised');
  // The simulator revises as a model does, by editing the draft: most of the text stays, so a
  // gate that still held the draft would turn nearly every revision away as its near-duplicate.
  t.ok(revise.done >= 8, `drafts reached revise (${revise.done})`);
  t.notOk(revise.rejectedByReason['near-duplicate'], `no revision is a near-duplicate of its own draft: ${JSON.stringify(revise.rejectedByReason)}`);
  t.ok(revise.accepted >= revise.done * 0.9, `revisions are accepted (${revise.accepted} of ${revise.done})`);
  const documents = await farm.exportLines(runId, 'documents');
  t.ok(documents.length > 0, 'the run has documents');
  t.equal(documents.length, revise.accepted);
  for (const doc of documents) {
    t.type(doc.critique, 'string');
    t.ok((doc.critique as string).length > 0);
    t.match(doc.id, /^revise-/);
  }
  const patterns = (await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/patterns`)).json()) as { corpus: { documents: { accepted: number } } };
  t.equal(patterns.corpus.documents.accepted, documents.length, 'the corpus statistics count each document once (its draft left when its revision came in)');
  t.equal(status.stages['chat-responses']!.done, 3);
});
