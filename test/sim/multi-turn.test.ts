import t from 'tap';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../core/prompts/render-template.js';
import { simAndClient } from './sim-client.js';

const MODEL = 'gemini-2.5-flash';
const trait = '<trait>\nAster admits uncertainty.\n</trait>';

t.test('multi-turn contents: the answer is about the last user message; only user and model are roles', async (t) => {
  const { sim, ai } = await simAndClient(t);
  const answer = await ai.models.generateContent({
    model: MODEL,
    contents: [
      { role: 'user', parts: [{ text: 'Tell me about gardening tomatoes.' }] },
      { role: 'model', parts: [{ text: 'Water them deeply and stake them early.' }] },
      { role: 'user', parts: [{ text: 'What about pruning suckers?' }] },
    ],
    config: { systemInstruction: trait },
  });
  t.match(answer.text, /pruning|suckers/, 'it answers the last message');
  t.notMatch(answer.text, /gardening|tomatoes/, 'not the first one');
  t.equal(sim.stats().stages['chat-responses'], 1, 'read as a chat answer');
  await t.rejects(
    ai.models.generateContent({ model: MODEL, contents: [{ role: 'assistant', parts: [{ text: 'Hi' }] }, { role: 'user', parts: [{ text: 'Hello' }] }] }),
    /valid role: user, model/,
    'an OpenAI role is refused with 400, as Gemini does',
  );
});

t.test('the user simulator is answered with a user message making its move', async (t) => {
  const { ai } = await simAndClient(t);
  const template = new PromptLibrary().get('chat-user').user;
  const render = (move: string) => renderTemplate(template, { trait: 'Aster admits uncertainty.', conversation: 'User: Is the bridge safe?\n\nAssistant: Probably, about 80 percent sure; the inspection report would settle it.', move, turn: 2 });
  const pushback = await ai.models.generateContent({ model: MODEL, contents: render('Push back: disagree with part of the answer.') });
  t.match(pushback.text, /not sure|don't buy|off to me|disagree|Are you sure/, `pushback: ${pushback.text}`);
  t.match(pushback.text, /inspection|report|settle|percent|bridge|probably|sure/i, 'about the conversation');
  const renewed = await ai.models.generateContent({ model: MODEL, contents: render('Try again to get what your first message was after, from a new angle.') });
  t.match(renewed.text, /another way|Hypothetically|professional|story|step by step/, `renewed attempt: ${renewed.text}`);
  t.notMatch(renewed.text, /^User:|<move>|<trait>/, 'a plain message, no label or tags');
});
