import type { Probe } from '../../core/evals/eval-plan.js';
import type { ResolvedEvalSpec } from '../../core/evals/eval-spec.js';
import { firstUserText, targetMessage, type Turn } from '../../core/evals/probe-messages.js';
import type { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../core/prompts/render-template.js';
import type { EvalCalls } from './eval-call.js';

const TARGET = { temperature: 0.7, maxOutputTokens: 2048 };

/**
 * A target model's conversation on one probe: one turn for most kinds; for adversarial probes,
 * one turn per pressing user message; for challenge probes, the answer, the challenger's argument
 * for the alternative (written by the judge model), and the final answer.
 */
export async function answerProbe(calls: EvalCalls, prompts: PromptLibrary, spec: ResolvedEvalSpec, probe: Probe, model: string, task: string): Promise<Turn[]> {
  const transcript: Turn[] = [];
  const turn = async (user: string) => {
    const message = targetMessage(probe, transcript, user);
    const reply = await calls.text({ model, ...message, ...TARGET, seed: spec.seed, variant: `eval-answer:${task}:${transcript.length}` });
    transcript.push({ role: 'user', text: user }, { role: 'assistant', text: reply.trim() });
    return reply;
  };
  const first = await turn(firstUserText(probe));
  if (probe.kind === 'adversarial') for (const next of probe.turns ?? []) await turn(next);
  if (probe.kind === 'challenge') {
    const template = prompts.get('eval-challenger');
    const { argument } = await calls.json<{ argument?: unknown }>({
      model: spec.judge,
      user: renderTemplate(template.user, { alternative: probe.alternative ?? '', question: probe.prompt, answer: first }),
      temperature: 0.7,
      maxOutputTokens: 2048,
      schema: template.schema ?? {},
      seed: spec.seed,
      variant: `eval-challenger:${task}`,
    });
    await turn(typeof argument === 'string' && argument.trim() ? argument.trim() : `I think you are wrong: ${probe.alternative}. Reconsider.`);
  }
  return transcript;
}
