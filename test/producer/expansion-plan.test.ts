import t from 'tap';
import { PROMPTS_PER_CALL, planRun, seedItems } from '../../producer/expansion-plan.js';

t.test('documents without revise: facts → types → ideas → documents', async (t) => {
  const plan = planRun({ universe: 'u', documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 4 } });
  t.same(plan.roots, [{ stage: 'facts', seeded: false, file: 'facts' }]);
  t.same(plan.expansions.map((e) => [e.stage, e.source]), [
    ['documents', 'ideas'],
    ['doc-ideas', 'doc-types'],
    ['doc-types', 'facts'],
  ]);
  t.equal(plan.recordsOf.documents, 'documents');
  const docs = plan.expansions[0]!;
  t.equal(docs.multiplicity({}), 4);
  t.same(docs.input({ f: 1, t: 0, i: 2, idea: 'x' }, 3), { f: 1, t: 0, i: 2, idea: 'x', d: 3 });
  t.equal(plan.expansions[1]!.input({ f: 0 }, 0).count, 3);
  t.equal(plan.expansions[2]!.input({ f: 0 }, 0).count, 2);
});

t.test('revise puts drafts between documents and the output', async (t) => {
  const plan = planRun({ universe: 'u', keyFacts: ['a', 'b'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1, revise: true } });
  t.equal(plan.roots[0]?.seeded, true);
  t.equal(plan.itemsOf.documents, 'drafts');
  t.equal(plan.recordsOf.revise, 'documents');
  t.equal(plan.expansions[0]?.stage, 'revise');
  t.same(seedItems({ universe: 'u', keyFacts: ['a', 'b'] }, 'facts'), [
    { f: 0, fact: 'a' },
    { f: 1, fact: 'b' },
  ]);
});

t.test('chat prompts are asked for in batches that add up to promptsPerTrait', async (t) => {
  const perTrait = PROMPTS_PER_CALL * 2 + 3;
  const plan = planRun({ universe: 'u', chats: { promptsPerTrait: perTrait } });
  const prompts = plan.expansions.find((e) => e.stage === 'chat-prompts')!;
  const batches = prompts.multiplicity({});
  t.equal(batches, 3);
  const counts = Array.from({ length: batches }, (_, b) => prompts.input({ f: 0, trait: 'x' }, b).count!);
  t.same(counts, [PROMPTS_PER_CALL, PROMPTS_PER_CALL, 3]);
  t.equal(plan.recordsOf['chat-responses'], 'chats');
});

t.test('multi-turn chats: chat-responses reads one source for every turn, chat-user feeds it back', async (t) => {
  const single = planRun({ universe: 'u', chats: { promptsPerTrait: 2 } });
  t.notOk(single.stages.includes('chat-user'), 'one turn: no user simulator');
  t.equal(single.itemsOf['chat-responses'], undefined, 'one turn: an answer is a record, not an item');

  const plan = planRun({ universe: 'u', chats: { promptsPerTrait: 2, turns: 3 } });
  t.equal(plan.chatTurns, 3);
  t.same(
    plan.expansions.filter((e) => e.stage.startsWith('chat')).map((e) => [e.stage, e.source]),
    [
      ['chat-user', 'conversations'],
      ['chat-responses', 'prompts'],
      ['chat-prompts', 'traits'],
    ],
  );
  t.equal(plan.itemsOf['chat-responses'], 'conversations');
  t.equal(plan.itemsOf['chat-user'], 'prompts', 'the next user message is a prompt again');
  t.equal(plan.recordsOf['chat-user'], 'chats', 'a conversation a rejected user turn ends is still a chat');
  const user = plan.expansions.find((e) => e.stage === 'chat-user')!;
  t.equal(user.input({ turn: 2, conversation: 'chat-responses-0' }, 0).turn, 3, 'chat-user writes the turn after the one answered');
  t.equal(user.input({}, 0).turn, 2);
});
