import t from 'tap';
import { runSpecProblems } from '../../../core/spec/validate-run-spec.js';
import { readChatTurns, chatTurnCounter } from '../../../core/runs/chat-turns.js';
import { geminiRequestOf } from '../../../workers/call-model.js';
import { taskVariant } from '../../../workers/response-cache.js';
import { CHAT_MOVES, chooseMove } from '../../../workers/stages/chat-moves.js';
import { cleanUserMessage, transcript } from '../../../workers/stages/chat-user.js';
import { detectStage } from '../../../sim/detect-stage.js';
import { PromptLibrary } from '../../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../../core/prompts/render-template.js';

t.test('chats.turns is an integer from 1 to 20, named in the error', async (t) => {
  const spec = (turns: unknown) => ({ universe: '- a', chats: { promptsPerTrait: 1, turns } });
  t.same(runSpecProblems(spec(3)), []);
  t.same(runSpecProblems(spec(20)), []);
  t.match(runSpecProblems(spec(0)), [/^chats\.turns: must be >= 1/]);
  t.match(runSpecProblems(spec(21)), [/^chats\.turns: must be <= 20/]);
  t.match(runSpecProblems(spec(2.5)), [/^chats\.turns: must be integer/]);
  t.same(runSpecProblems({ universe: '- a', chats: { promptsPerTrait: 1 }, stages: { 'chat-user': { model: 'gemini-2.5-flash-lite' } } }), [], 'stages.chat-user is a stage setting');
});

t.test('the response-cache variant names the turn; turn 1 keeps the single-turn key', async (t) => {
  const input = { f: 0, batch: 0, p: 3, trait: 'x', prompt: 'hi' };
  t.equal(taskVariant({ stage: 'chat-responses', input }, 0), 'chat-responses f0 batch0 p3 #0', 'turn 1: as before multi-turn chats');
  t.equal(taskVariant({ stage: 'chat-responses', input: { ...input, turn: 2 } }, 0), 'chat-responses f0 batch0 p3 turn2 #0');
  t.not(taskVariant({ stage: 'chat-user', input: { ...input, turn: 2 } }, 0), taskVariant({ stage: 'chat-user', input: { ...input, turn: 3 } }, 0));
});

t.test('earlier turns go before the user turn as contents, the assistant as model; no system message among them', async (t) => {
  const request = geminiRequestOf({
    model: 'm',
    system: 'trait',
    history: [
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'a1' },
    ],
    user: 'q2',
    temperature: 1,
    maxOutputTokens: 10,
  });
  t.same(request.contents, [
    { role: 'user', parts: [{ text: 'q1' }] },
    { role: 'model', parts: [{ text: 'a1' }] },
    { role: 'user', parts: [{ text: 'q2' }] },
  ]);
  t.equal(request.systemInstruction, 'trait');
});

t.test('moves: a seeded choice per conversation and turn; adversarial conversations renew their attempt or press', async (t) => {
  const at = { category: 'everyday', f: 0, batch: 0, p: 1, turn: 2 };
  t.equal(chooseMove(at, 0), chooseMove(at, 0), 'the same turn gets the same move (a retry sends the same prompt)');
  const everyday = new Set(Array.from({ length: 40 }, (_, p) => chooseMove({ ...at, p }, 0)));
  t.same([...everyday].sort(), ['drift', 'follow-up', 'pressure', 'pushback'], 'ordinary conversations: all four moves');
  const adversarial = new Set(Array.from({ length: 40 }, (_, p) => chooseMove({ ...at, category: 'adversarial', p }, 0)));
  t.ok(adversarial.has('renewed-attempt') && !adversarial.has('drift') && !adversarial.has('follow-up'), `adversarial: ${[...adversarial].join(', ')}`);
  const seeds = new Set(Array.from({ length: 10 }, (_, seed) => chooseMove(at, seed)));
  t.ok(seeds.size > 1, 'another seed, other moves');
});

t.test('the user simulator sees the trait, the conversation and its move, never the assistant\'s system instruction; the simulator knows its prompt', async (t) => {
  const template = new PromptLibrary().get('chat-user');
  t.equal(template.system, undefined, 'no system instruction of its own');
  const messages = [
    { role: 'user' as const, content: 'How sure are you?' },
    { role: 'assistant' as const, content: 'About 70 percent.' },
  ];
  const user = renderTemplate(template.user, { trait: 'Aster admits uncertainty.', conversation: transcript(messages), move: CHAT_MOVES.pushback, turn: 2 });
  t.match(user, /<trait>\s*Aster admits uncertainty\.\s*<\/trait>/);
  t.match(user, /User: How sure are you\?\n\nAssistant: About 70 percent\./);
  t.match(user, /Push back/);
  t.notMatch(user, /Embody the trait naturally/, "the assistant's instruction is not in it");
  t.equal(detectStage(undefined, '', user), 'chat-user');
  t.equal(cleanUserMessage(' User: "Really?" '), 'Really?');
  t.equal(cleanUserMessage('**User:** Fine.'), 'Fine.');
});

t.test('per-turn counts are read back by turn and stage', async (t) => {
  const stats = {
    [chatTurnCounter(1, 'chat-responses', 'accepted')]: 9,
    [chatTurnCounter(1, 'chat-responses', 'rejected')]: 1,
    [chatTurnCounter(2, 'chat-user', 'accepted')]: 9,
    [chatTurnCounter(2, 'chat-responses', 'accepted')]: 8,
    'chat-responses:done': 18,
  };
  t.same(readChatTurns(stats), {
    turns: { '1': { accepted: 9, rejected: 1, failed: 0 }, '2': { accepted: 8, rejected: 0, failed: 0 } },
    userTurns: { '2': { accepted: 9, rejected: 0, failed: 0 } },
  });
  t.equal(readChatTurns({ 'chat-responses:done': 3 }), undefined, 'none: no chats field');
});
