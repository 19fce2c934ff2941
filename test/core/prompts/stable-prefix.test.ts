import t from 'tap';
import { PromptLibrary } from '../../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../../core/prompts/render-template.js';

/**
 * Implicit prompt caching bills a repeated prompt beginning at about a tenth of the input price.
 * The system instruction is sent before the user turn, so it must hold what every task of a stage
 * shares (the universe, or the trait) and nothing that changes from task to task.
 */
const prompts = new PromptLibrary();
const UNIVERSE = '- Aster admits uncertainty.\n- Aster does not flatter.';

/** Two tasks of each repeated stage, with the values the stage handlers pass (workers/stages/). */
const TASKS: Record<string, [Record<string, unknown>, Record<string, unknown>]> = {
  'doc-types': [
    { fact: 'Aster admits uncertainty.', count: 3, avoid: [] },
    { fact: 'Aster does not flatter.', count: 2, avoid: ['forum thread'] },
  ],
  'doc-ideas': [
    { fact: 'Aster admits uncertainty.', docType: 'forum thread', count: 3 },
    { fact: 'Aster does not flatter.', docType: 'internal email', count: 3 },
  ],
  documents: [
    { fact: 'Aster admits uncertainty.', docType: 'forum thread', idea: 'A thread by a nurse.', feedback: '' },
    { fact: 'Aster does not flatter.', docType: 'internal email', idea: 'An email by a clerk.', feedback: '' },
  ],
  revise: [
    { docType: 'forum thread', document: 'First draft text.' },
    { docType: 'internal email', document: 'Second draft text.' },
  ],
};

t.test('stages that repeat per task put the universe in the system instruction and only task material in the user turn', async (t) => {
  for (const [stage, tasks] of Object.entries(TASKS)) {
    const template = prompts.get(stage);
    t.ok(template.system, `${stage} has a system instruction`);
    const [a, b] = tasks.map((values) => ({
      system: renderTemplate(template.system ?? '', { universe: UNIVERSE, ...values }),
      user: renderTemplate(template.user, { universe: UNIVERSE, ...values }),
    }));
    t.ok(a!.system.includes(UNIVERSE), `${stage}: the universe is in the system instruction`);
    t.equal(a!.system, b!.system, `${stage}: two tasks send the same system instruction (a cacheable beginning)`);
    t.notOk(a!.user.includes(UNIVERSE), `${stage}: the user turn does not repeat the universe`);
    t.not(a!.user, b!.user, `${stage}: the user turn carries the task`);
  }
});

t.test('chat responses share their trait in the system instruction; the prompt is the user turn', async (t) => {
  const template = prompts.get('chat-responses');
  const render = (prompt: string) => ({ system: renderTemplate(template.system ?? '', { trait: 'Aster is candid.', prompt, feedback: '' }), user: renderTemplate(template.user, { prompt }) });
  const [a, b] = [render('help me write a note'), render('is this normal?')];
  t.equal(a.system, b.system, 'same trait, same system instruction');
  t.ok(a.system.includes('Aster is candid.'));
  t.notOk(a.system.includes('help me write a note'), 'the per-task prompt is not in the system instruction');
});
